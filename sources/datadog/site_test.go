package datadog

import (
	"testing"
)

// TestSites: every Datadog site in every form people paste into DD_SITE
// calls its own API host; anything else is refused at start-up with the
// list of sites, not a DNS error at the first poll.
func TestSites(t *testing.T) {
	cases := []struct{ site, url string }{
		{"", "https://api.datadoghq.com"},
		{"datadoghq.com", "https://api.datadoghq.com"},
		{"app.datadoghq.com", "https://api.datadoghq.com"},
		{"US1", "https://api.datadoghq.com"},
		{"us3.datadoghq.com", "https://api.us3.datadoghq.com"},
		{"https://us3.datadoghq.com/apm/home", "https://api.us3.datadoghq.com"},
		{"us5.datadoghq.com", "https://api.us5.datadoghq.com"},
		{"https://us5.datadoghq.com/", "https://api.us5.datadoghq.com"},
		{"datadoghq.eu", "https://api.datadoghq.eu"},
		{"app.datadoghq.eu", "https://api.datadoghq.eu"},
		{"api.datadoghq.eu", "https://api.datadoghq.eu"},
		{"https://app.datadoghq.eu/", "https://api.datadoghq.eu"},
		{"https://api.datadoghq.eu", "https://api.datadoghq.eu"},
		{" api.datadoghq.eu/ ", "https://api.datadoghq.eu"},
		{"https://app.datadoghq.eu/dashboard/abc-123?from_ts=1", "https://api.datadoghq.eu"},
		{"DATADOGHQ.EU", "https://api.datadoghq.eu"},
		{"eu1", "https://api.datadoghq.eu"},
		{"ap1.datadoghq.com", "https://api.ap1.datadoghq.com"},
		{"app.ap1.datadoghq.com", "https://api.ap1.datadoghq.com"},
		{"ap2.datadoghq.com", "https://api.ap2.datadoghq.com"},
		{"ddog-gov.com", "https://api.ddog-gov.com"},
		{"app.ddog-gov.com", "https://api.ddog-gov.com"},
		{"US1-FED", "https://api.ddog-gov.com"},
		{"us3.datadoghq.com:443", "https://api.us3.datadoghq.com"},
		{"https://api.datadoghq.eu:443/", "https://api.datadoghq.eu"},
	}
	for _, tc := range cases {
		t.Run(tc.site, func(t *testing.T) {
			src, err := New(Config{APIKey: "a", AppKey: "b", Site: tc.site})
			if err != nil {
				t.Fatal(err)
			}
			if src.BaseURL() != tc.url {
				t.Errorf("DD_SITE=%q calls %s, want %s", tc.site, src.BaseURL(), tc.url)
			}
		})
	}
	const list = "want one of datadoghq.com (US1), us3.datadoghq.com (US3), us5.datadoghq.com (US5), datadoghq.eu (EU1), ap1.datadoghq.com (AP1), ap2.datadoghq.com (AP2), ddog-gov.com (US1-FED), or the address of its app or API (app.datadoghq.eu, api.datadoghq.eu); a proxy or a private endpoint is --datadog-url"
	for _, bad := range []string{"datadoghq.co", "datadog.eu", "eu.datadoghq.com", "datadog.internal.example", "us2.datadoghq.com"} {
		t.Run("refused "+bad, func(t *testing.T) {
			_, err := New(Config{APIKey: "a", AppKey: "b", Site: bad})
			want := `datadog: DD_SITE "` + bad + `" is not a Datadog site: ` + list
			if err == nil || err.Error() != want {
				t.Errorf("got %v\nwant %s", err, want)
			}
		})
	}
	t.Run("an endpoint makes the site moot", func(t *testing.T) {
		src, err := New(Config{APIKey: "a", AppKey: "b", Site: "datadog.internal.example", Endpoint: "http://127.0.0.1:8126/proxy"})
		if err != nil || src.BaseURL() != "http://127.0.0.1:8126/proxy" {
			t.Errorf("got %v, %v", src, err)
		}
	})
}
