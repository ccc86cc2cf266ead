package datadog

import (
	"fmt"
	"strings"
)

// Site is one Datadog site: its name in Datadog's documentation, the
// domain DD_SITE names and the host of its API.
type Site struct {
	// Region is Datadog's name for the site: US1, EU1, US1-FED...
	Region string
	// Domain is the site as DD_SITE names it: datadoghq.eu.
	Domain string
}

// APIHost is where the site's API answers: api.datadoghq.eu.
func (s Site) APIHost() string { return "api." + s.Domain }

// Sites are every Datadog site, US1 first (the default).
var Sites = []Site{
	{"US1", "datadoghq.com"},
	{"US3", "us3.datadoghq.com"},
	{"US5", "us5.datadoghq.com"},
	{"EU1", "datadoghq.eu"},
	{"AP1", "ap1.datadoghq.com"},
	{"AP2", "ap2.datadoghq.com"},
	{"US1-FED", "ddog-gov.com"},
}

// ParseSite reads DD_SITE in any of the forms people paste: the site
// (datadoghq.eu, us5.datadoghq.com), the browser's address
// (app.datadoghq.eu, https://app.datadoghq.eu/dashboard/abc), the API's
// host (api.datadoghq.eu, https://api.datadoghq.eu/) or the region's name
// (EU1). Empty is US1. Anything else is refused, naming every site.
func ParseSite(s string) (Site, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return Sites[0], nil
	}
	host := in
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if h, port, ok := strings.Cut(host, ":"); ok && port == "443" {
		host = h // https://api.datadoghq.eu:443/
	}
	host = strings.TrimSuffix(host, ".")
	for _, prefix := range []string{"api.", "app."} {
		host = strings.TrimPrefix(host, prefix)
	}
	for _, site := range Sites {
		if host == site.Domain || in == strings.ToLower(site.Region) {
			return site, nil
		}
	}
	known := make([]string, len(Sites))
	for i, site := range Sites {
		known[i] = fmt.Sprintf("%s (%s)", site.Domain, site.Region)
	}
	return Site{}, fmt.Errorf("DD_SITE %q is not a Datadog site: want one of %s, or the address of its app or API (app.datadoghq.eu, api.datadoghq.eu); a proxy or a private endpoint is --datadog-url",
		s, strings.Join(known, ", "))
}
