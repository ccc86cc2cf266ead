package config

import (
	"strings"
	"testing"
	"time"
)

// templateTarget is a targets file of one target "web" whose load is
// given by the flow-style load (e.g. {datadog: '...'}), followed by a
// target "api" without template variables.
func templateTarget(load string) string {
	return `targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: ` + load + `
    capacityPerReplica: 10
    maxReplicas: 50
  - name: api
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: api}
    load: {datadog: 'sum:trace.http.request.hits{service:api}.as_rate()'}
    capacityPerReplica: 10
    maxReplicas: 50
`
}

// fakeEnv is the environment of the tests' daemon.
func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestQueryTemplates(t *testing.T) {
	env := fakeEnv(map[string]string{"DD_CLUSTER_NAME": "prod-eu", "REGION": "eu-west-1", "EMPTY": "", "BLANK": "  ",
		"FROM_A_FILE": "eu-west-1\n", "DD_API_KEY": "dd-api-secret", "DD_APP_KEY": "dd-app-secret", "VAULT_TOKEN": "s.123"})
	eu := Loader{Cluster: "eu", LookupEnv: env}
	cases := []struct {
		name   string
		loader Loader
		load   string
		// want is the expanded query of web; empty when web is rejected
		// with the problems wantProblems.
		want         string
		wantProblems []string
	}{
		{"the cluster", eu, `{datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%cluster%%}.as_rate()'}`,
			"sum:trace.http.request.hits{kube_cluster_name:eu}.as_rate()", nil},
		{"an environment variable", eu, `{datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%env_DD_CLUSTER_NAME%%}.as_rate()'}`,
			"sum:trace.http.request.hits{kube_cluster_name:prod-eu}.as_rate()", nil},
		{"several variables, one twice", eu, `{datadog: 'sum:trace.http.request.hits{kube_cluster_name:%%cluster%%,region:%%env_REGION%%,env:%%cluster%%-%%env_DD_CLUSTER_NAME%%}.as_rate()'}`,
			"sum:trace.http.request.hits{kube_cluster_name:eu,region:eu-west-1,env:eu-prod-eu}.as_rate()", nil},
		{"a Prometheus query", eu, `{prometheus: 'sum(rate(http_requests_total{cluster="%%cluster%%",region="%%env_REGION%%"}[1m]))'}`,
			`sum(rate(http_requests_total{cluster="eu",region="eu-west-1"}[1m]))`, nil},
		{"no variable: untouched, whatever the loader", Loader{}, `{prometheus: 'sum(rate(x[1m])) % 7'}`,
			"sum(rate(x[1m])) % 7", nil},
		{"an unknown variable close to cluster", eu, `{datadog: 'sum:x{kube_cluster_name:%%clustr%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%clustr%% is not a template variable; did you mean %%cluster%%?`}},
		{"an unknown variable", eu, `{datadog: 'sum:x{kube_cluster_name:%%foo%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%foo%% is not a template variable; primetime knows %%cluster%% (its --cluster) and %%env_NAME%% (its environment variable NAME)`}},
		{"the Cluster Agent's tag variable", eu, `{datadog: 'sum:x{kube_cluster_name:%%tag_kube_cluster_name%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%tag_kube_cluster_name%% is not a template variable; primetime has no tag variables: write %%cluster%% (its --cluster) or %%env_NAME%% (its environment variable NAME)`}},
		{"an environment variable misspelt", eu, `{datadog: 'sum:x{region:%%ENV_REGION%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%ENV_REGION%% is not a template variable; did you mean %%env_REGION%%?`}},
		{"an unset environment variable", eu, `{datadog: 'sum:x{region:%%env_NOPE%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_NOPE%% is not set in primetime's environment`}},
		{"an empty environment variable", eu, `{datadog: 'sum:x{region:%%env_EMPTY%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_EMPTY%% is empty in primetime's environment`}},
		{"a blank environment variable", eu, `{datadog: 'sum:x{region:%%env_BLANK%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_BLANK%% is empty in primetime's environment`}},
		{"no environment at all", Loader{Cluster: "eu"}, `{datadog: 'sum:x{region:%%env_REGION%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_REGION%% is not set in primetime's environment`}},
		{"an empty cluster", Loader{LookupEnv: env}, `{datadog: 'sum:x{kube_cluster_name:%%cluster%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`}},
		{"an empty cluster in a Prometheus query", Loader{}, `{prometheus: 'sum(rate(x{cluster="%%cluster%%"}[1m]))'}`, "", []string{
			`targets.yaml:5: target "web": load.prometheus: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`}},
		{"each bad variable once, in order", Loader{LookupEnv: env}, `{datadog: 'sum:x{a:%%cluster%%,b:%%env_NOPE%%,c:%%cluster%%,d:%%env_REGION%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)`,
			`targets.yaml:5: target "web": load.datadog: %%env_NOPE%% is not set in primetime's environment`}},
		{"env_ with no name", eu, `{datadog: 'sum:x{region:%%env_%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_%% names no environment variable; write %%env_NAME%%, e.g. %%env_DD_CLUSTER_NAME%%`}},
		{"an unclosed variable", eu, `{datadog: 'sum:x{kube_cluster_name:%%cluster}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: holds a %% that closes no template variable; write them as %%cluster%% or %%env_NAME%%`}},
		{"the expanded query is checked", Loader{Cluster: "eu", LookupEnv: fakeEnv(map[string]string{"TAGS": "a:1},sum:y{b:2"})}, `{datadog: 'sum:x{%%env_TAGS%%}'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: "sum:x{a:1},sum:y{b:2}" holds several queries; give one query per target`}},
		{"a value read from a file, its newline trimmed", eu, `{datadog: 'sum:x{region:%%env_FROM_A_FILE%%}'}`,
			"sum:x{region:eu-west-1}", nil},
		{"the daemon's Datadog keys are never read", eu, `{datadog: 'sum:x{a:b},%%env_DD_APP_KEY%%'}`, "", []string{
			`targets.yaml:5: target "web": load.datadog: %%env_DD_APP_KEY%% names a secret: primetime never puts a key, token or password of its environment in a query`,
			// The query is checked as written: the key is not in it.
			`targets.yaml:5: target "web": load.datadog: "sum:x{a:b},%%env_DD_APP_KEY%%" holds several queries; give one query per target`}},
		{"nor any token", eu, `{prometheus: 'up{t="%%env_VAULT_TOKEN%%",k="%%env_DD_API_KEY%%"}'}`, "", []string{
			`targets.yaml:5: target "web": load.prometheus: %%env_VAULT_TOKEN%% names a secret: primetime never puts a key, token or password of its environment in a query`,
			`targets.yaml:5: target "web": load.prometheus: %%env_DD_API_KEY%% names a secret: primetime never puts a key, token or password of its environment in a query`}},
		{"a target of another cluster is not checked against this one's variables", eu,
			"{datadog: 'sum:x{region:%%env_US_ONLY%%}'}\n    clusters: [us]", "sum:x{region:%%env_US_ONLY%%}", nil},
		{"a target of this cluster is", eu,
			"{datadog: 'sum:x{region:%%env_US_ONLY%%}'}\n    clusters: [eu, us]", "", []string{
				`targets.yaml:5: target "web": load.datadog: %%env_US_ONLY%% is not set in primetime's environment`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.loader.ParseFile("targets.yaml", []byte(templateTarget(tc.load)))
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.wantProblems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantProblems, "\n"))
			}
			// The rest of the file stays in force.
			var names []string
			for _, tg := range res.Targets {
				names = append(names, tg.Name)
			}
			wantNames := "web,api"
			if tc.want == "" {
				wantNames = "api"
				if len(res.Rejected) != 1 || res.Rejected[0] != (EntryRef{Kind: KindTarget, Namespace: "storefront", Name: "web"}) {
					t.Errorf("rejected %+v, want web", res.Rejected)
				}
			}
			if strings.Join(names, ",") != wantNames {
				t.Fatalf("targets in force %v, want %s", names, wantNames)
			}
			if tc.want == "" {
				return
			}
			if q := res.Targets[0].Load.Prometheus + res.Targets[0].Load.Datadog; q != tc.want {
				t.Errorf("web's query %q, want %q", q, tc.want)
			}
			if q := res.Targets[1].Load.Datadog; q != "sum:trace.http.request.hits{service:api}.as_rate()" {
				t.Errorf("api's query %q changed", q)
			}
		})
	}
}

// In the cluster, a ConfigMap's targets are expanded with the daemon's
// variables too, and the InvalidEntry problem names the key's file.
func TestQueryTemplatesInConfigMaps(t *testing.T) {
	data := map[string]string{"targets.yaml": templateTarget(`{datadog: 'sum:x{kube_cluster_name:%%cluster%%}'}`)}
	res := Loader{Cluster: "us"}.ParseConfigMapData("storefront", "primetime-targets", data)
	requireNoProblems(t, res)
	if len(res.Targets) != 2 || res.Targets[0].Load.Datadog != "sum:x{kube_cluster_name:us}" {
		t.Fatalf("targets %+v", res.Targets)
	}
	res = ParseConfigMapData("storefront", "primetime-targets", data)
	if got := res.Problems.Error(); got != `storefront/primetime-targets[targets.yaml]:5: target "web": load.datadog: %%cluster%% is empty: run primetime with --cluster NAME (serve, lint and plan take it)` {
		t.Errorf("problem %q", got)
	}
	// A ConfigMap manifest in a file, as lint reads it.
	manifest := `apiVersion: v1
kind: ConfigMap
metadata:
  name: primetime-targets
  namespace: storefront
  labels: {primetime.dev/targets: "true"}
data:
  targets.yaml: |
    targets:
      - name: web
        scaleTargetRef: {kind: Deployment, name: web}
        load: {datadog: 'sum:x{kube_cluster_name:%%cluster%%}'}
        capacityPerReplica: 10
        maxReplicas: 50
`
	res = Loader{Cluster: "eu"}.ParseFile("cm.yaml", []byte(manifest))
	requireNoProblems(t, res)
	if len(res.Targets) != 1 || res.Targets[0].Load.Datadog != "sum:x{kube_cluster_name:eu}" {
		t.Fatalf("targets %+v", res.Targets)
	}
}

func TestDatadogRollupWarning(t *testing.T) {
	cases := []struct {
		query string
		want  string // the warning; empty for none
	}{
		{"sum:x{a:b}.as_rate().rollup(avg, 300)", `targets.yaml:5: warning: target "web": load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none reacts within a minute`},
		{"sum:x{a:b}.rollup(sum, 120)", `targets.yaml:5: warning: target "web": load.datadog: rolls up by 2m0s: primetime reacts up to 2m late; .rollup(sum, 30) reacts within a minute, counting per 30 s: divide capacityPerReplica by 4`},
		{"sum:orders{*}.as_count().rollup(sum, 300)", `targets.yaml:5: warning: target "web": load.datadog: rolls up by 5m0s: primetime reacts up to 5m late; .rollup(sum, 30) reacts within a minute, counting per 30 s: divide capacityPerReplica by 10`},
		{"sum:x{a:b}.rollup(90)", `targets.yaml:5: warning: target "web": load.datadog: rolls up by 1m30s: primetime reacts up to 1m30s late; .rollup(avg, 30) or none reacts within a minute`},
		{"sum:x{a:b}.rollup(avg, 3600)", `targets.yaml:5: warning: target "web": load.datadog: rolls up by 1h0m0s: primetime reacts up to 1h late; .rollup(avg, 30) or none reacts within a minute`},
		{"sum:orders{*}.as_count().rollup(sum)", `targets.yaml:5: warning: target "web": load.datadog: .rollup(sum) has no interval: primetime sends .rollup(sum,30), so the load is a count per 30 s (capacityPerReplica and an absolute expect: in that unit); write .rollup(sum, 30) to say so`},
		{"sum:orders{*}.rollup( count )", `targets.yaml:5: warning: target "web": load.datadog: .rollup(count) has no interval: primetime sends .rollup(count,30), so the load is a count per 30 s (capacityPerReplica and an absolute expect: in that unit); write .rollup(count, 30) to say so`},
		{"avg:x{a:b}.rollup(avg)", ""},
		{"sum:x{a:b}.rollup(avg, 60)", ""},
		{"sum:x{a:b}.rollup(avg, 30)", ""},
		{"sum:x{a:b}.as_rate()", ""},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			res := ParseFile("targets.yaml", []byte(templateTarget(`{datadog: '`+tc.query+`'}`)))
			if got := res.Problems.Error(); got != tc.want {
				t.Errorf("problems %q, want %q", got, tc.want)
			}
			if len(res.Targets) != 2 || res.Targets[0].Load.Datadog != tc.query {
				t.Errorf("the target must stay in force: %+v", res.Targets)
			}
			if len(res.Problems.Errors()) != 0 {
				t.Errorf("a warning only: %v", res.Problems.Errors())
			}
		})
	}
	// The rollup of the expanded query counts.
	res := Loader{LookupEnv: fakeEnv(map[string]string{"ROLLUP": "600"})}.ParseFile("targets.yaml", []byte(templateTarget(`{datadog: 'sum:x{a:b}.rollup(avg, %%env_ROLLUP%%)'}`)))
	if got := res.Problems.Error(); got != `targets.yaml:5: warning: target "web": load.datadog: rolls up by 10m0s: primetime reacts up to 10m late; .rollup(avg, 30) or none reacts within a minute` {
		t.Errorf("expanded rollup: %q", got)
	}
	if _, slow := DatadogRollupAdvice("sum:x{a:b}.rollup(avg, 61)"); !slow {
		t.Error("61 s is wider than a minute")
	}
	if d := MaxQuickRollup; d != time.Minute {
		t.Errorf("MaxQuickRollup %s", d)
	}
}
