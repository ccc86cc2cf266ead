package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireNoProblems(t *testing.T, res *Result) {
	t.Helper()
	if len(res.Problems) > 0 {
		t.Fatalf("unexpected problems:\n%s", res.Problems.Error())
	}
}

func TestParseSpecExamples(t *testing.T) {
	targets := ParseFile("targets.yaml", mustRead(t, "testdata/spec-targets.yaml"))
	requireNoProblems(t, targets)
	if len(targets.Targets) != 1 {
		t.Fatalf("got %d targets, want 1", len(targets.Targets))
	}
	web := targets.Targets[0]
	want := ground.Target{
		Name: "web", Namespace: "storefront",
		ScaleTargetRef:     ground.ScaleTargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Load:               ground.LoadSpec{Prometheus: `sum(rate(http_requests_total{app="web"}[1m]))`},
		CapacityPerReplica: 50, MinReplicas: 2, MaxReplicas: 300, LeadTime: 8 * time.Minute,
		Mode: ground.ModeMetric, Forecast: &ground.ForecastSpec{Seasonality: 168 * time.Hour, Lookback: 4},
		Clusters: []string{"eu"}, Behavior: ground.DefaultBehavior, LearnedHeadroom: ground.DefaultLearnedHeadroom, Origin: ground.Origin{File: "targets.yaml", Line: 2},
	}
	gotForecast, wantForecast := *web.Forecast, *want.Forecast
	web.Forecast, want.Forecast = nil, nil
	if fmt.Sprintf("%+v", web) != fmt.Sprintf("%+v", want) || gotForecast != wantForecast {
		t.Errorf("target:\n got %+v\nwant %+v", web, want)
	}
	if !web.InCluster("eu") || web.InCluster("us") {
		t.Errorf("clusters [eu] should select only --cluster=eu")
	}

	windows := ParseFile("windows.yaml", mustRead(t, "testdata/spec-windows.yaml"))
	requireNoProblems(t, windows)
	if len(windows.Windows) != 3 {
		t.Fatalf("got %d windows, want 3", len(windows.Windows))
	}
	spot := windows.Windows[0]
	paris, _ := time.LoadLocation("Europe/Paris")
	if !spot.Start.Equal(time.Date(2026, 11, 25, 20, 45, 0, 0, paris)) || spot.Duration != 15*time.Minute {
		t.Errorf("spot starts %s for %s, want 2026-11-25 20:45 CET for 15m", spot.Start, spot.Duration)
	}
	if spot.Demand != (ground.Demand{Kind: ground.DemandMultiplier, Value: 5}) || spot.Cooldown != DefaultCooldown {
		t.Errorf("spot demand %v cooldown %s", spot.Demand, spot.Cooldown)
	}
	if !spot.Selects(ground.TargetKey{Namespace: "storefront", Name: "web"}) || spot.Selects(ground.TargetKey{Namespace: "storefront", Name: "cart"}) {
		t.Errorf("spot selectors %v", spot.Targets)
	}
	news := windows.Windows[1]
	if news.Cron == nil || news.Cron.Spec != "0 10 * * SUN" || !news.Selects(ground.TargetKey{Namespace: "storefront", Name: "cart"}) {
		t.Errorf("newsletter: %+v", news)
	}
	quiet := windows.Windows[2]
	if !quiet.Quiet || quiet.Demand != (ground.Demand{Kind: ground.DemandReplicas, Value: 0}) || quiet.Location.String() != "Europe/Paris" {
		t.Errorf("staging-nights: %+v", quiet)
	}
}

func TestParseConfigMapManifest(t *testing.T) {
	src := `apiVersion: v1
kind: ConfigMap
metadata:
  name: spots
  namespace: marketing
  labels:
    primetime.dev/windows: "true"
data:
  notes.txt: ignored
  november.yaml: |
    timezone: Europe/Paris
    windows:
      - name: ok
        start: "2026-11-25 20:45"
        duration: 15m
        expect: 5x
        targets: ["*"]
      - name: bad
        start: "2026-11-25 20:45"
        duration: 15 minutes
        expect: 5x
        targets: ["*"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-targets
  namespace: storefront
data:
  web.yaml: |
    targets:
      - name: web
        scaleTargetRef: {kind: Deployment, name: web}
        load: {datadog: "sum:trace.http.request.hits{service:web,env:prod}.as_rate()"}
        capacityPerReplica: 50
        maxReplicas: 10
`
	res := ParseFile("cm.yaml", []byte(src))
	if len(res.Windows) != 1 || res.Windows[0].Name != "ok" {
		t.Fatalf("windows: %+v", res.Windows)
	}
	if len(res.Targets) != 1 || res.Targets[0].Namespace != "storefront" {
		t.Fatalf("targets should default to the ConfigMap's namespace: %+v", res.Targets)
	}
	errs := res.Problems.Errors()
	if len(errs) != 1 {
		t.Fatalf("want 1 error, got:\n%s", res.Problems.Error())
	}
	if got, want := errs[0].Error(), `cm.yaml:20: window "bad": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d`; got != want {
		t.Errorf("error line:\n got %s\nwant %s", got, want)
	}
	warns := res.Problems.Warnings()
	if len(warns) != 1 || !strings.Contains(warns[0].Reason, `lacks the label primetime.dev/targets: "true"`) {
		t.Errorf("want a warning about the missing targets label, got %v", warns)
	}
	if len(res.Rejected) != 1 || res.Rejected[0] != (EntryRef{Kind: KindWindow, Name: "bad"}) {
		t.Errorf("rejected: %+v", res.Rejected)
	}
}

func TestParseConfigMapData(t *testing.T) {
	data := map[string]string{
		"a.yaml": "windows:\n  - name: dup\n    start: 2026-11-25T20:45:00+01:00\n    duration: 1h\n    replicas: 3\n    targets: [shop/*]\n",
		"b.yaml": "windows:\n  - name: dup\n    cron: '0 9 * * *'\n    duration: 1h\n    replicas: 3\n    targets: [shop/*]\n",
		"c.txt":  "not: [yaml",
	}
	res := ParseConfigMapData("shop", "spots", data)
	if len(res.Windows) != 1 {
		t.Fatalf("want the first dup to apply, got %d windows", len(res.Windows))
	}
	errs := res.Problems.Errors()
	if len(errs) != 1 || errs[0].File != "shop/spots[b.yaml]" || errs[0].Line != 2 || errs[0].Field != "name" {
		t.Fatalf("want a duplicate-name error in b.yaml line 2, got %v", res.Problems)
	}
}

func TestYAMLThatDoesNotParse(t *testing.T) {
	res := ParseFile("broken.yaml", []byte("windows:\n  - name: x\n   start: [\n"))
	if len(res.Problems) != 1 || res.Problems[0].Line == 0 || !strings.Contains(res.Problems[0].Reason, "does not parse") {
		t.Fatalf("want one parse problem with a line, got %v", res.Problems)
	}
}

// windowCase is a windows document holding one entry that must be rejected.
type badCase struct {
	name  string
	entry string // YAML of one list entry, indented by 2
	field string
	words string // a piece of the reason
}

func TestBadWindows(t *testing.T) {
	const good = "    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n"
	cases := []badCase{
		{"missing name", "  - start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", "name", "is missing"},
		{"empty name", "  - name: \"\"\n" + good, "name", "is empty"},
		{"name is a list", "  - name: [a]\n" + good, "name", "single value"},
		{"unknown field", "  - name: w\n" + good + "    duraton: 1h\n", "duraton", `did you mean "duration"`},
		{"field given twice", "  - name: w\n" + good + "    expect: 2x\n", "expect", "given twice"},
		{"no start nor cron", "  - name: w\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", "start", "start (a one-off window) or cron"},
		{"start and cron", "  - name: w\n    cron: '0 9 * * *'\n" + good, "cron", "not both"},
		{"start not a time", "  - name: w\n    start: tomorrow\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", "start", "not a date and time"},
		{"start without time of day", "  - name: w\n    start: \"2026-11-25\"\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", "start", "no time of day"},
		{"start bad month", "  - name: w\n    start: \"2026-13-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", "start", "not a date and time"},
		{"no duration nor end", "  - name: w\n    start: \"2026-11-25 20:45\"\n    expect: 5x\n    targets: [a/b]\n", "duration", "give duration"},
		{"duration and end", "  - name: w\n" + good + "    end: \"2026-11-25 21:00\"\n", "end", "not both"},
		{"end before start", "  - name: w\n    start: \"2026-11-25 20:45\"\n    end: \"2026-11-25 20:00\"\n    expect: 5x\n    targets: [a/b]\n", "end", "after start"},
		{"end not a time", "  - name: w\n    start: \"2026-11-25 20:45\"\n    end: soon\n    expect: 5x\n    targets: [a/b]\n", "end", "not a date and time"},
		{"duration without unit", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15\n    expect: 5x\n    targets: [a/b]\n", "duration", "needs a unit"},
		{"duration words", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: a while\n    expect: 5x\n    targets: [a/b]\n", "duration", "not a duration"},
		{"duration zero", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 0s\n    expect: 5x\n    targets: [a/b]\n", "duration", "between 1m and 31d"},
		{"duration too long", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 40d\n    expect: 5x\n    targets: [a/b]\n", "duration", "between 1m and 31d"},
		{"cron with end", "  - name: w\n    cron: '0 9 * * *'\n    end: \"2026-11-25 21:00\"\n    expect: 5x\n    targets: [a/b]\n", "end", "takes duration, not end"},
		{"cron without duration", "  - name: w\n    cron: '0 9 * * *'\n    expect: 5x\n    targets: [a/b]\n", "duration", "how long each occurrence"},
		{"cron 6 fields", "  - name: w\n    cron: '0 0 9 * * *'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", "5 fields"},
		{"cron bad day name", "  - name: w\n    cron: '0 9 * * SUNDAY'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", `"SUNDAY" is not understood`},
		{"cron minute out of range", "  - name: w\n    cron: '61 9 * * *'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", "61 is out of range; the largest value allowed there is 59"},
		{"cron never happens", "  - name: w\n    cron: '0 0 30 2 *'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", "never happens"},
		{"cron every", "  - name: w\n    cron: '@every 1h'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", "not tied to the clock"},
		{"cron with zone", "  - name: w\n    cron: 'CRON_TZ=Europe/Paris 0 9 * * *'\n    duration: 1h\n    expect: 5x\n    targets: [a/b]\n", "cron", "timezone field"},
		{"bad timezone", "  - name: w\n    timezone: Mars/Olympus\n" + good, "timezone", "unknown time zone"},
		{"short timezone", "  - name: w\n    timezone: Paris\n" + good, "timezone", "Europe/Paris"},
		{"Local timezone", "  - name: w\n    timezone: Local\n" + good, "timezone", "IANA"},
		{"no expect nor replicas", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    targets: [a/b]\n", "expect", "is missing"},
		{"expect and replicas", "  - name: w\n" + good + "    replicas: 3\n", "replicas", "not both"},
		{"expect words", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: lots\n    targets: [a/b]\n", "expect", "multiplier like 5x or a load"},
		{"expect bad multiplier", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: fivex\n    targets: [a/b]\n", "expect", "not a multiplier"},
		{"expect below 1x", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 0.5x\n    targets: [a/b]\n", "expect", "at least 1x"},
		{"expect huge multiplier", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5000x\n    targets: [a/b]\n", "expect", "typo"},
		{"expect zero load", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 0\n    targets: [a/b]\n", "expect", "greater than 0"},
		{"expect negative load", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: -100\n    targets: [a/b]\n", "expect", "greater than 0"},
		{"negative replicas", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: -1\n    targets: [a/b]\n", "replicas", "between 0 and"},
		{"fractional replicas", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: 2.5\n    targets: [a/b]\n", "replicas", "whole number"},
		{"replicas words", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: many\n    targets: [a/b]\n", "replicas", "whole number"},
		{"quiet not a bool", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    replicas: 0\n    quiet: maybe\n    targets: [a/b]\n", "quiet", "true or false"},
		{"quiet with expect", "  - name: w\n    quiet: true\n" + good, "expect", "caps replicas"},
		{"quiet without replicas", "  - name: w\n    quiet: true\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    targets: [a/b]\n", "replicas", "quiet window needs"},
		{"quiet with cooldown", "  - name: w\n    quiet: true\n    replicas: 0\n    cooldown: 5m\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    targets: [a/b]\n", "cooldown", "no cooldown"},
		{"cooldown negative", "  - name: w\n" + good + "    cooldown: -5m\n", "cooldown", "between 0s and 1d"},
		{"no targets", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n", "targets", "is missing"},
		{"empty targets", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: []\n", "targets", "at least one"},
		{"target without namespace", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [web]\n", "targets", "namespace/name"},
		{"target bad namespace", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [Store_Front/web]\n", "targets", "not a valid namespace"},
		{"target bad name", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/Web!]\n", "targets", "not a valid target name"},
		{"target too many slashes", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [a/b/c]\n", "targets", "namespace/name"},
		{"targets a mapping", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: {a: b}\n", "targets", "must be a list"},
		{"entry not a mapping", "  - just a string\n", "", "key: value"},
		{"learned without group nor cron", "  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: learned\n    initially: 5x\n    targets: [a/b]\n", "expect", "learned needs the windows to learn from: give a group (e.g. group: tf1-prime), or make the window recurring with cron"},
		{"learned without initially", "  - name: w\n    group: g\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: learned\n    targets: [a/b]\n", "initially", "is missing; expect: learned needs the multiplier to use until the window has a report, e.g. initially: 5x"},
		{"learned initially a load", "  - name: w\n    group: g\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: learned\n    initially: 12000\n    targets: [a/b]\n", "initially", `"12000" is a load; initially is a multiplier of the usual load, e.g. 5x`},
		{"learned initially below 1x", "  - name: w\n    group: g\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: learned\n    initially: 0.5x\n    targets: [a/b]\n", "initially", "would not raise capacity"},
		{"initially without learned", "  - name: w\n" + good + "    initially: 5x\n", "initially", "is the multiplier used until a learned window has a report; it goes with expect: learned"},
		{"empty group", "  - name: w\n" + good + "    group: \"\"\n", "group", "is empty; give a value or remove the line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := "windows:\n  - name: fine\n" + good + tc.entry + "  - name: also-fine\n" + good
			res := ParseFile("w.yaml", []byte(doc))
			assertRejected(t, res, KindWindow, tc, len(res.Windows), 2)
		})
	}
}

func TestBadTargets(t *testing.T) {
	const rest = "    scaleTargetRef: {kind: Deployment, name: web}\n    load: {prometheus: 'sum(rate(x[1m]))'}\n    capacityPerReplica: 50\n    maxReplicas: 10\n"
	entry := func(name, extra string) string {
		return "  - name: " + name + "\n    namespace: shop\n" + rest + extra
	}
	withoutLine := func(prefix string) string {
		var out []string
		for _, l := range strings.Split(entry("t", ""), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), prefix) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	replace := func(old, new string) string { return strings.Replace(entry("t", ""), old, new, 1) }
	cases := []badCase{
		{"missing name", "  - namespace: shop\n" + rest, "name", "is missing"},
		{"name not a kubernetes name", entry("Web_1", ""), "name", "not a valid Kubernetes name"},
		{"missing namespace", withoutLine("namespace"), "namespace", "is missing"},
		{"bad namespace", replace("namespace: shop", "namespace: Shop"), "namespace", "not a valid Kubernetes name"},
		{"duplicate", entry("fine", ""), "name", "already defined"},
		{"missing scaleTargetRef", withoutLine("scaleTargetRef"), "scaleTargetRef", "is missing"},
		{"scaleTargetRef scalar", replace("{kind: Deployment, name: web}", "web"), "scaleTargetRef", "key: value"},
		{"scaleTargetRef no kind", replace("{kind: Deployment, name: web}", "{name: web}"), "scaleTargetRef.kind", "is missing"},
		{"scaleTargetRef bad kind", replace("kind: Deployment", "kind: deploy ment"), "scaleTargetRef.kind", "not a Kubernetes kind"},
		{"scaleTargetRef no name", replace("{kind: Deployment, name: web}", "{kind: Deployment}"), "scaleTargetRef.name", "is missing"},
		{"custom kind without apiVersion", replace("kind: Deployment", "kind: Rollout"), "scaleTargetRef.apiVersion", "is needed"},
		{"scaleTargetRef unknown field", replace("name: web}", "name: web, replicas: 3}"), "scaleTargetRef.replicas", "unknown field"},
		{"missing load", withoutLine("load"), "load", "is missing"},
		{"no source", replace("{prometheus: 'sum(rate(x[1m]))'}", "{}"), "load", "give one load source"},
		{"two sources", replace("{prometheus: 'sum(rate(x[1m]))'}", "{prometheus: 'up', datadog: 'avg:x{*}'}"), "load", "exactly one"},
		{"unknown source", replace("{prometheus: 'sum(rate(x[1m]))'}", "{influx: 'x'}"), "load.influx", "unknown field"},
		{"prometheus unbalanced", replace("'sum(rate(x[1m]))'", "'sum(rate(x[1m])'"), "load.prometheus", "unclosed"},
		{"prometheus empty", replace("'sum(rate(x[1m]))'", "''"), "load.prometheus", "is empty"},
		{"datadog two queries", replace("{prometheus: 'sum(rate(x[1m]))'}", "{datadog: 'avg:a{*},avg:b{*}'}"), "load.datadog", "several queries"},
		{"datadog not a query", replace("{prometheus: 'sum(rate(x[1m]))'}", "{datadog: 'requests'}"), "load.datadog", "not a Datadog metrics query"},
		{"datadog grouped", replace("{prometheus: 'sum(rate(x[1m]))'}", "{datadog: 'avg:x{*} by {pod_name}'}"), "load.datadog", `"avg:x{*} by {pod_name}" is grouped by {pod_name}: primetime needs one number per target; drop " by {pod_name}" to aggregate over all of them (sum: for a total, avg: for a mean)`},
		{"scrape without selector", replace("{prometheus: 'sum(rate(x[1m]))'}", "{scrape: {port: 9090, counter: c_total}}"), "load.scrape.selector", "is missing"},
		{"scrape bad selector", replace("{prometheus: 'sum(rate(x[1m]))'}", "{scrape: {selector: 'app==(', port: 9090, counter: c_total}}"), "load.scrape.selector", "not a label selector"},
		{"scrape port out of range", replace("{prometheus: 'sum(rate(x[1m]))'}", "{scrape: {selector: app=web, port: 70000, counter: c_total}}"), "load.scrape.port", "between 1 and 65535"},
		{"scrape bad path", replace("{prometheus: 'sum(rate(x[1m]))'}", "{scrape: {selector: app=web, port: 9090, path: metrics, counter: c_total}}"), "load.scrape.path", "starting with /"},
		{"scrape bad counter", replace("{prometheus: 'sum(rate(x[1m]))'}", "{scrape: {selector: app=web, port: 9090, counter: 'http-requests'}}"), "load.scrape.counter", "not a Prometheus metric name"},
		{"kubernetes without selector", replace("{prometheus: 'sum(rate(x[1m]))'}", "{kubernetes: {resource: cpu}}"), "load.kubernetes.selector", "is missing"},
		{"kubernetes memory", replace("{prometheus: 'sum(rate(x[1m]))'}", "{kubernetes: {selector: app=web, resource: memory}}"), "load.kubernetes.resource", "only cpu"},
		{"missing capacity", withoutLine("capacityPerReplica"), "capacityPerReplica", "is missing"},
		{"zero capacity", replace("capacityPerReplica: 50", "capacityPerReplica: 0"), "capacityPerReplica", "greater than 0"},
		{"capacity words", replace("capacityPerReplica: 50", "capacityPerReplica: fifty"), "capacityPerReplica", "must be a number"},
		{"capacity NaN", replace("capacityPerReplica: 50", "capacityPerReplica: .nan"), "capacityPerReplica", "must be a number"},
		{"negative min", entry("t", "    minReplicas: -1\n"), "minReplicas", "between 0 and"},
		{"missing max", withoutLine("maxReplicas"), "maxReplicas", "is missing"},
		{"max below min", entry("t", "    minReplicas: 20\n"), "maxReplicas", "at least minReplicas"},
		{"max zero", replace("maxReplicas: 10", "maxReplicas: 0"), "maxReplicas", "between 1 and"},
		{"leadTime words", entry("t", "    leadTime: early\n"), "leadTime", "not a duration"},
		{"leadTime too long", entry("t", "    leadTime: 48h\n"), "leadTime", "between 0s and 1d"},
		{"bad mode", entry("t", "    mode: turbo\n"), "mode", "metric, hpa-floor or scale"},
		{"nodes without leadTime", entry("t", "    nodes: {}\n"), "nodes.leadTime", "is missing; give how long a new node takes to join, e.g. 6m"},
		{"nodes leadTime too long", entry("t", "    nodes: {leadTime: 3h}\n"), "nodes.leadTime", "must be between 1s and 2h, got 3h"},
		{"nodes unknown field", entry("t", "    nodes: {leadTime: 6m, lead: 3}\n"), "nodes.lead", "unknown field"},
		{"learnedHeadroom negative", entry("t", "    learnedHeadroom: -0.1\n"), "learnedHeadroom", "must be a fraction from 0 to 2 (0.1 is 10%), got -0.1"},
		{"forecast without seasonality", entry("t", "    forecast: {lookback: 4}\n"), "forecast.seasonality", "is missing"},
		{"forecast lookback zero", entry("t", "    forecast: {seasonality: 168h, lookback: 0}\n"), "forecast.lookback", "between 1 and 52"},
		{"forecast short season", entry("t", "    forecast: {seasonality: 10m}\n"), "forecast.seasonality", "between 1h and"},
		{"bad cluster name", entry("t", "    clusters: [EU_West]\n"), "clusters", "not a valid Kubernetes name"},
		{"unknown target field", entry("t", "    minReplica: 2\n"), "minReplica", `did you mean "minReplicas"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := "targets:\n" + entry("fine", "") + tc.entry + entry("also-fine", "")
			res := ParseFile("t.yaml", []byte(doc))
			assertRejected(t, res, KindTarget, tc, len(res.Targets), 2)
		})
	}
}

// assertRejected checks that the bad entry, and only it, was rejected with
// a problem naming it and its field.
func assertRejected(t *testing.T, res *Result, kind EntryKind, tc badCase, gotGood, wantGood int) {
	t.Helper()
	errs := res.Problems.Errors()
	if len(errs) == 0 {
		t.Fatalf("no problem reported")
	}
	if gotGood != wantGood {
		t.Errorf("the good entries around the bad one: got %d, want %d\n%s", gotGood, wantGood, errs.Error())
	}
	for _, p := range errs {
		if p.Kind != kind || p.Field != tc.field || !strings.Contains(p.Reason, tc.words) {
			continue
		}
		msg := p.Error()
		if p.Field != "" && !strings.Contains(msg, " "+p.Field+": ") {
			t.Errorf("message does not name the field: %s", msg)
		}
		if !strings.Contains(msg, p.Subject()) || p.Subject() == "" || p.Line == 0 {
			t.Errorf("message does not name the entry and line: %s", msg)
		}
		return
	}
	t.Fatalf("no problem on field %q saying %q; got:\n%s", tc.field, tc.words, errs.Error())
}

func TestBadDocuments(t *testing.T) {
	cases := []struct {
		name, doc, words string
	}{
		{"both lists", "targets: []\nwindows: []\n", "not both"},
		{"neither", "foo: bar\n", "expected a `targets:` or `windows:` list"},
		{"a list at the top", "- a\n- b\n", "expected a `targets:` or `windows:` list"},
		{"other kind", "apiVersion: apps/v1\nkind: Deployment\n", "not primetime configuration"},
		{"bad top-level zone", "timezone: Europe/Pariss\nwindows:\n  - name: w\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [a/b]\n", `x.yaml:1: timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC; the window without a timezone of its own is rejected until this is fixed`},
		{"windows not a list", "windows: {name: w}\n", "windows: must be a list"},
		{"unknown top-level key", "timezon: UTC\nwindows: []\n", `did you mean "timezone"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ParseFile("x.yaml", []byte(tc.doc))
			if !strings.Contains(res.Problems.Error(), tc.words) {
				t.Fatalf("want a problem saying %q, got:\n%s", tc.words, res.Problems.Error())
			}
		})
	}
}

func TestResolveConflicts(t *testing.T) {
	parse := func(file, text string) []ground.Target {
		t.Helper()
		res := ParseFile(file, []byte(text))
		if errs := res.Problems.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		return res.Targets
	}
	a := parse("a.yaml", `targets:
  - {name: web, namespace: shop, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 9, mode: hpa-floor}
  - {name: api, namespace: shop, scaleTargetRef: {kind: Deployment, name: api}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 9}
`)
	b := parse("b.yaml", `targets:
  - {name: web-scale, namespace: shop, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 9, mode: scale}
  - {name: web-metric, namespace: shop, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 9}
  - {name: api, namespace: shop, scaleTargetRef: {kind: Deployment, name: api}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 9}
`)
	kept, conflicts := ResolveConflicts(append(a, b...))
	var problems Problems
	for _, c := range conflicts {
		problems = append(problems, c.Problem)
	}
	var names []string
	for _, k := range kept {
		names = append(names, k.Name)
	}
	if got := strings.Join(names, ","); got != "web,api,web-metric" {
		t.Errorf("kept %s, want web,api,web-metric (a metric target does not write)", got)
	}
	want := []string{
		`b.yaml:2: target "web-scale": scaleTargetRef: Deployment shop/web is already driven by hpa-floor target shop/web (a.yaml:2); one workload takes one hpa-floor or scale target`,
		`b.yaml:4: target "api": name: target shop/api is already defined in a.yaml:3`,
	}
	if got := problems.Error(); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestDatadogQueryChecks (issue #16): what lint says of Datadog queries,
// word for word. Grouped queries are refused (primetime needs one number
// per target) with the clause to drop; a query without an aggregator is
// valid.
func TestDatadogQueryChecks(t *testing.T) {
	cases := []struct {
		name, query, err string
	}{
		{"aggregated", "sum:trace.http.request.hits{service:web}.as_rate()", ""},
		{"without an aggregator", "system.cpu.idle{*}", ""},
		{"a tag named like by", "avg:x{nearby:yes,by:team}", ""},
		{"grouped", "avg:x{*} by {pod_name}",
			`"avg:x{*} by {pod_name}" is grouped by {pod_name}: primetime needs one number per target; drop " by {pod_name}" to aggregate over all of them (sum: for a total, avg: for a mean)`},
		{"grouped by two tags, then a function", "sum:trace.http.request.hits{env:prod} by {service,host}.as_count()",
			`"sum:trace.http.request.hits{env:prod} by {service,host}.as_count()" is grouped by {service,host}: primetime needs one number per target; drop " by {service,host}" to aggregate over all of them (sum: for a total, avg: for a mean)`},
		{"grouped inside a function", "top(avg:x{*} by {host}, 10, 'mean', 'desc')",
			`"top(avg:x{*} by {host}, 10, 'mean', 'desc')" is grouped by {host}: primetime needs one number per target; drop " by {host}" to aggregate over all of them (sum: for a total, avg: for a mean)`},
		{"two queries", "avg:a{*},avg:b{*}", `"avg:a{*},avg:b{*}" holds several queries; give one query per target`},
		{"no scope", "requests", `"requests" is not a Datadog metrics query; write it like sum:trace.http.request.hits{service:web}.as_rate()`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkDatadogQuery(tc.query)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("checkDatadogQuery(%q) = %q, want %q", tc.query, got, tc.err)
			}
		})
	}
}

func TestLearnedWindow(t *testing.T) {
	cases := []struct {
		name, entry   string
		group         string
		learningGroup string
		initially     float64
	}{
		{"a group", "    group: tf1-prime\n    start: \"2026-11-28 20:50\"\n", "tf1-prime", "tf1-prime", 5},
		{"recurring, its own group", "    cron: \"50 20 * * SAT\"\n", "", "window w.yaml spot", 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := "windows:\n  - name: spot\n" + tc.entry + "    duration: 10m\n    expect: LEARNED\n    initially: 5x\n    targets: [storefront/web]\n"
			res := ParseFile("w.yaml", []byte(doc))
			if len(res.Problems) != 0 || len(res.Windows) != 1 {
				t.Fatalf("problems %v, %d windows", res.Problems, len(res.Windows))
			}
			w := res.Windows[0]
			if !w.Learned || w.Group != tc.group || w.LearningGroup() != tc.learningGroup || w.Demand != (ground.Demand{Kind: ground.DemandMultiplier, Value: tc.initially}) {
				t.Errorf("learned %v, group %q (learning %q), demand %+v; want learned, %q (%q), %gx", w.Learned, w.Group, w.LearningGroup(), w.Demand, tc.group, tc.learningGroup, tc.initially)
			}
		})
	}
}
