//go:build !simulateonly

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	promconfig "github.com/prometheus/common/config"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/primetime-dev/primetime/sources"
	"github.com/primetime-dev/primetime/sources/datadog"
	"github.com/primetime-dev/primetime/sources/kubemetrics"
	promsource "github.com/primetime-dev/primetime/sources/prometheus"
	"github.com/primetime-dev/primetime/sources/scrape"
)

// sourceFlags configure the load sources.
type sourceFlags struct {
	prom               promFlags
	datadogURL         string
	datadogSite        string
	datadogBudgetShare float64
}

// datadogConfig is the Datadog source's configuration: keys and site from
// the environment (DD_API_KEY, DD_APP_KEY, DD_SITE), the flags over them.
func (o *sourceFlags) datadogConfig() datadog.Config {
	cfg := datadog.ConfigFromEnv(os.Getenv)
	if o.datadogSite != "" {
		cfg.Site = o.datadogSite
	}
	cfg.Endpoint, cfg.BudgetShare = o.datadogURL, o.datadogBudgetShare
	return cfg
}

type promFlags struct {
	url, bearerTokenFile, username, passwordFile, caFile string
	insecureSkipVerify                                   bool
	timeout                                              time.Duration
}

func (o *sourceFlags) install(f *pflag.FlagSet) {
	f.StringVar(&o.prom.url, "prometheus-url", "", "Prometheus base URL for prometheus: load sources")
	f.StringVar(&o.prom.bearerTokenFile, "prometheus-bearer-token-file", "", "file holding a bearer token for Prometheus")
	f.StringVar(&o.prom.username, "prometheus-username", "", "basic auth user for Prometheus")
	f.StringVar(&o.prom.passwordFile, "prometheus-password-file", "", "file holding the basic auth password for Prometheus")
	f.StringVar(&o.prom.caFile, "prometheus-ca-file", "", "CA bundle to verify Prometheus' certificate")
	f.BoolVar(&o.prom.insecureSkipVerify, "prometheus-insecure-skip-verify", false, "do not verify Prometheus' certificate")
	f.DurationVar(&o.prom.timeout, "prometheus-timeout", 3*time.Second, "timeout of one Prometheus query")
	f.StringVar(&o.datadogURL, "datadog-url", "", "Datadog API base URL, for a proxy or a private endpoint; its path is kept (default: from DD_SITE)")
	f.StringVar(&o.datadogSite, "datadog-site", "", "Datadog site: datadoghq.com (US1, the default), us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com or ddog-gov.com, or the address of its app or API (default: DD_SITE)")
	f.Float64Var(&o.datadogBudgetShare, "datadog-budget-share", datadog.DefaultBudgetShare, "share of the Datadog organisation's query budget (x-ratelimit-limit per period) primetime spends, live reads and forecast history together, in (0, 1]; the refresh interval stretches to stay within it")
}

func (p promFlags) httpConfig() promconfig.HTTPClientConfig {
	var c promconfig.HTTPClientConfig
	if p.bearerTokenFile != "" {
		c = promsource.BearerToken(p.bearerTokenFile)
	}
	if p.username != "" {
		c.BasicAuth = &promconfig.BasicAuth{Username: p.username, PasswordFile: p.passwordFile}
	}
	c.TLSConfig = promconfig.TLSConfig{CAFile: p.caFile, InsecureSkipVerify: p.insecureSkipVerify}
	return c
}

// newPrometheus is the Prometheus source of --prometheus-url.
func (o *sourceFlags) newPrometheus(m *sources.Metrics) (*promsource.Source, error) {
	return promsource.New(promsource.Config{URL: o.prom.url, Timeout: o.prom.timeout, HTTP: o.prom.httpConfig()}, m)
}

// newDatadog is the Datadog source of the environment and the flags.
func (o *sourceFlags) newDatadog(log *zap.Logger, m *sources.Metrics) (*datadog.Source, error) {
	if o.datadogBudgetShare <= 0 || o.datadogBudgetShare > 1 {
		return nil, fmt.Errorf("--datadog-budget-share %v is not in (0, 1]", o.datadogBudgetShare)
	}
	cfg := o.datadogConfig()
	cfg.Logger, cfg.Observer, cfg.RateLimits = log, m, m
	return datadog.New(cfg)
}

// registerSources registers the load sources that are configured with
// poller, each polled with its kind's default timing.
func (o *sourceFlags) registerSources(ctx context.Context, poller *sources.Poller, interval time.Duration, cfg *rest.Config, client kubernetes.Interface, m *sources.Metrics, log *zap.Logger) error {
	register := func(src sources.Source) {
		every, maxAge := sources.DefaultTiming(src.Kind(), interval)
		poller.Register(sources.Registration{Source: src, Interval: every, MaxAge: maxAge})
	}
	if o.prom.url != "" {
		src, err := o.newPrometheus(m)
		if err != nil {
			return err
		}
		register(src)
	}
	if os.Getenv("DD_API_KEY") != "" {
		src, err := o.newDatadog(log.Named("datadog"), m)
		if err != nil {
			return err
		}
		log.Info("datadog: querying", zap.String("url", src.BaseURL()), zap.Float64("budgetShare", o.datadogBudgetShare))
		register(src)
	}
	register(scrape.New(scrape.NewInformerPods(ctx, client), scrape.Config{Observer: m}))
	mc, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	register(kubemetrics.New(mc, 5*time.Second, m))
	return nil
}
