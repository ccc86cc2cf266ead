package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/sources"
	"github.com/primetime-dev/primetime/sources/datadog"
)

// TestAWrongDatadogSiteIsRefusedAtStart: serve refuses a site Datadog does
// not have when it starts, naming the sites, whether it comes from
// --datadog-site or DD_SITE; the flag wins over the variable.
func TestAWrongDatadogSiteIsRefusedAtStart(t *testing.T) {
	t.Setenv("DD_API_KEY", "a")
	t.Setenv("DD_APP_KEY", "b")
	const sites = "want one of datadoghq.com (US1), us3.datadoghq.com (US3), us5.datadoghq.com (US5), datadoghq.eu (EU1), ap1.datadoghq.com (AP1), ap2.datadoghq.com (AP2), ddog-gov.com (US1-FED), or the address of its app or API (app.datadoghq.eu, api.datadoghq.eu); a proxy or a private endpoint is --datadog-url"
	tests := []struct {
		name, env, flag, want string
	}{
		{"the flag", "datadoghq.eu", "datadog.eu", `datadog: DD_SITE "datadog.eu" is not a Datadog site: ` + sites},
		{"the variable", "app.datadoghq.co", "", `datadog: DD_SITE "app.datadoghq.co" is not a Datadog site: ` + sites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DD_SITE", tt.env)
			o := &sourceFlags{datadogSite: tt.flag, datadogBudgetShare: datadog.DefaultBudgetShare}
			err := o.registerSources(context.Background(), sources.NewPoller(sources.NewCache()), 15*time.Second, nil, nil, nil, zap.NewNop())
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
	t.Run("the flag over the variable", func(t *testing.T) {
		t.Setenv("DD_SITE", "datadog.eu")
		if got := (&sourceFlags{datadogSite: "https://app.datadoghq.eu/"}).datadogConfig().Site; got != "https://app.datadoghq.eu/" {
			t.Errorf("site %q", got)
		}
	})
}
