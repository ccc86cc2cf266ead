package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/primetime-dev/primetime/render"
)

const clusterTargets = "testdata/cluster-targets.yaml"

// setTestEnv sets PT_TEST_ENV, the variable testdata/cluster-targets.yaml
// names, for one test; unset when value is nil.
func setTestEnv(t *testing.T, value *string) {
	t.Helper()
	t.Setenv("PT_TEST_ENV", "") // restored at the end of the test
	if value == nil {
		if err := os.Unsetenv("PT_TEST_ENV"); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Setenv("PT_TEST_ENV", *value)
}

func ptr(s string) *string { return &s }

// lint expands the template variables as serve would with the same
// --cluster and environment, and says what is missing when it cannot.
func TestLintExpandsTemplateVariables(t *testing.T) {
	const rollup = `testdata/cluster-targets.yaml:13: warning: target "api": load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none reacts within a minute`
	cases := []struct {
		name     string
		args     []string
		env      *string
		code     int
		want     []string
		wantErrs string
	}{
		{"--cluster and the variable set", []string{"--cluster", "eu"}, ptr("prod"), 0,
			[]string{rollup, "ok: 1 file, 2 targets, 0 windows (1 warning)"}, ""},
		{"without --cluster", nil, ptr("prod"), 1, []string{
			`testdata/cluster-targets.yaml:7: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`,
			rollup}, "1 problem in 1 file"},
		{"the variable unset", []string{"--cluster", "eu"}, nil, 1, []string{
			`testdata/cluster-targets.yaml:7: target "web": load.datadog: %%env_PT_TEST_ENV%% is not set in primetime's environment`,
			rollup}, "1 problem in 1 file"},
		{"the variable empty, no --cluster", nil, ptr(""), 1, []string{
			`testdata/cluster-targets.yaml:7: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`,
			`testdata/cluster-targets.yaml:7: target "web": load.datadog: %%env_PT_TEST_ENV%% is empty in primetime's environment`,
			rollup}, "2 problems in 1 file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setTestEnv(t, tc.env)
			code, out, errOut := runCLI(t, append(append([]string{"lint"}, tc.args...), clusterTargets)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if got := strings.TrimSpace(out); got != strings.Join(tc.want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
			if got := strings.TrimSpace(errOut); got != tc.wantErrs {
				t.Errorf("stderr %q, want %q", got, tc.wantErrs)
			}
		})
	}
}

// A Datadog rollup wider than a minute is a warning: lint still exits 0.
func TestLintWarnsOfAWideDatadogRollup(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		rollup string
		want   []string
	}{
		{"300", []string{
			`targets.yaml:5: warning: target "web": load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none reacts within a minute`,
			"ok: 1 file, 1 target, 0 windows (1 warning)"}},
		{"60", []string{"ok: 1 file, 1 target, 0 windows"}},
	} {
		t.Run(tc.rollup, func(t *testing.T) {
			t.Chdir(dir)
			if err := os.WriteFile("targets.yaml", []byte(`targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {datadog: 'sum:trace.http.request.hits{service:web}.as_rate().rollup(avg, `+tc.rollup+`)'}
    capacityPerReplica: 10
    maxReplicas: 50
`), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "lint", "targets.yaml")
			if code != 0 || strings.TrimSpace(out) != strings.Join(tc.want, "\n") || errOut != "" {
				t.Errorf("exit %d, stderr %q, output:\n%s\nwant exit 0 and:\n%s", code, errOut, out, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// plan --cluster shows the targets of that cluster with their queries
// as its daemon sends them, and the rollup warning under its target.
func TestPlanShowsTheExpandedQueries(t *testing.T) {
	setTestEnv(t, ptr("prod"))
	wd, _ := os.Getwd()
	windows := filepath.Join(wd, "testdata/spec-windows.yaml")
	plan := func(cluster string, more ...string) (int, string, string) {
		return runCLI(t, append([]string{"plan", "--cluster", cluster, "--targets", clusterTargets, "--windows", windows,
			"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z"}, more...)...)
	}
	served := func(name string) string {
		return "  served as primetime_replicas (selector target=" + name + ") through external.metrics.k8s.io, or to KEDA as an `external` trigger with metadata target: storefront/" + name
	}
	for _, tc := range []struct {
		cluster string
		want    []string // the lines of each target before its windows
	}{
		{"eu", []string{
			"storefront/web (Deployment/web, mode metric, 1-50 replicas, 10 load per replica, lead 5m)",
			served("web"),
			"  load from datadog: sum:trace.http.request.hits{kube_cluster_name:eu,env:prod}.as_rate()",
		}},
		{"us", []string{
			"storefront/web (Deployment/web, mode metric, 1-50 replicas, 10 load per replica, lead 5m)",
			served("web"),
			"  load from datadog: sum:trace.http.request.hits{kube_cluster_name:us,env:prod}.as_rate()",
			"storefront/api (Deployment/api, mode metric, 1-50 replicas, 10 load per replica, lead 5m)",
			served("api"),
			"  load from datadog: sum:trace.http.request.hits{service:api}.as_rate().rollup(avg, 300)",
			"  warning: load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none reacts within a minute",
		}},
	} {
		t.Run(tc.cluster, func(t *testing.T) {
			code, out, errOut := plan(tc.cluster)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var heads []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "storefront/") || strings.HasPrefix(l, "  served as") || strings.HasPrefix(l, "  load from") || strings.HasPrefix(l, "  warning:") {
					heads = append(heads, l)
				}
			}
			if strings.Join(heads, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("target lines:\n%s\nwant:\n%s\n\n%s", strings.Join(heads, "\n"), strings.Join(tc.want, "\n"), out)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, js, _ := plan("us", "--output", "json")
		var doc render.PlanJSON
		if err := json.Unmarshal([]byte(js), &doc); code != 0 || err != nil {
			t.Fatalf("exit %d, %v: %s", code, err, js)
		}
		got := map[string]render.TargetPlanJSON{}
		for _, tp := range doc.Targets {
			got[tp.Target] = tp
		}
		if web := got["storefront/web"]; web.Load == nil || *web.Load != (render.LoadJSON{Datadog: "sum:trace.http.request.hits{kube_cluster_name:us,env:prod}.as_rate()"}) || web.Warnings != nil {
			t.Errorf("web: load %+v, warnings %q", web.Load, web.Warnings)
		}
		api := got["storefront/api"]
		if want := "load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none reacts within a minute"; len(api.Warnings) != 1 || api.Warnings[0] != want {
			t.Errorf("api warnings %q, want [%q]", api.Warnings, want)
		}
	})
	t.Run("without --cluster", func(t *testing.T) {
		code, out, errOut := runCLI(t, "plan", "--targets", clusterTargets, "--windows", windows,
			"--from", "2026-11-25T12:00:00Z", "--to", "2026-11-26T00:00:00Z")
		want := `testdata/cluster-targets.yaml:7: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`
		if code != 1 || strings.TrimSpace(errOut) != want || !strings.HasPrefix(out, "storefront/api ") {
			t.Errorf("exit %d, stderr %q (want %q), output:\n%s", code, errOut, want, out)
		}
	})
}
