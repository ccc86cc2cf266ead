package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/primetime-dev/primetime/ground"
)

// seedFiles adds every YAML file under testdata as a seed.
func seedFiles(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkResult asserts what must hold for any input: every problem says
// where and why, and every accepted entry is complete.
func checkResult(t *testing.T, res *Result) {
	t.Helper()
	for _, p := range res.Problems {
		if p.File == "" || p.Reason == "" || !strings.HasPrefix(p.Error(), p.File) {
			t.Fatalf("problem without file or reason: %#v", p)
		}
		if p.Kind != "" && p.Subject() == "" {
			t.Fatalf("entry problem does not name its entry: %#v", p)
		}
	}
	for _, w := range res.Windows {
		if w.Name == "" || w.Location == nil || w.Duration <= 0 || len(w.Targets) == 0 || (w.Cron == nil) == w.Start.IsZero() || w.Demand.Kind == 0 {
			t.Fatalf("accepted an incomplete window: %+v", w)
		}
		if w.Quiet && w.Demand.Kind != ground.DemandReplicas {
			t.Fatalf("accepted a quiet window without replicas: %+v", w)
		}
	}
	for _, tg := range res.Targets {
		if tg.Name == "" || tg.Namespace == "" || tg.CapacityPerReplica <= 0 || tg.MaxReplicas < tg.MinReplicas || tg.MaxReplicas < 1 || tg.ScaleTargetRef.Name == "" {
			t.Fatalf("accepted an incomplete target: %+v", tg)
		}
		n := 0
		for _, set := range []bool{tg.Load.Prometheus != "", tg.Load.Datadog != "", tg.Load.Scrape != nil, tg.Load.Kubernetes != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("accepted a target with %d load sources: %+v", n, tg)
		}
	}
}

// fuzzParse seeds f with the testdata files and extra, then checks every
// input both as a file and as a ConfigMap value under key.
func fuzzParse(f *testing.F, key string, extra []string) {
	seedFiles(f)
	for _, s := range extra {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkResult(t, ParseFile("fuzz.yaml", data))
		checkResult(t, ParseConfigMapData("ns", "cm", map[string]string{key: string(data)}))
	})
}

func FuzzParseWindows(f *testing.F) {
	fuzzParse(f, "w.yaml", []string{
		"windows:\n  - {name: a, cron: '0 10 * * SUN', duration: 1h, expect: 2x, targets: ['*']}\n",
		"timezone: America/New_York\nwindows:\n  - {name: a, start: '2026-03-08 02:30', end: '2026-03-08 03:30', replicas: 3, targets: [a/*]}\n",
		"windows:\n  - &x {name: a, start: '2026-11-25 20:45', duration: 15m, expect: 5x, targets: [a/b]}\n  - *x\n",
		"windows:\n  - name: a\n    quiet: yes\n    replicas: 0\n    cron: '@daily'\n    duration: 12h\n    targets: [staging/*]\n",
		"kind: ConfigMap\ndata:\n  w.yaml: |\n    windows: [{name: x}]\n",
		"windows: [",
		"---\n---\nwindows: ~\n",
	})
}

func FuzzParseTargets(f *testing.F) {
	fuzzParse(f, "t.yaml", []string{
		"targets:\n  - {name: web, namespace: shop, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: 'sum(x)'}, capacityPerReplica: 50, maxReplicas: 10}\n",
		"targets:\n  - {name: web, namespace: shop, scaleTargetRef: {kind: Rollout, apiVersion: argoproj.io/v1alpha1, name: web}, load: {scrape: {selector: 'app in (a,b)', port: 9090, counter: c_total}}, capacityPerReplica: 0.5, minReplicas: 0, maxReplicas: 1, mode: scale}\n",
		"targets:\n  - {name: web, namespace: shop, scaleTargetRef: {kind: Deployment, name: web}, load: {datadog: 'sum:a{b:c,d:e}.as_rate()'}, capacityPerReplica: 1e3, maxReplicas: 10, forecast: {seasonality: 7d}}\n",
		"targets:\n  - name: web\n    load: {prometheus: 'x', datadog: 'y'}\n    load: {}\n",
		"targets: {}\n",
	})
}
