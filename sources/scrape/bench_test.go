package scrape

import (
	"strings"
	"testing"
)

// BenchmarkRound200Pods measures one scrape round of 200 pods, each a real
// HTTP server on its own loopback address, through the informer's lister.
func BenchmarkRound200Pods(b *testing.B) {
	r := newRig(b, 200, 200)
	waitForPods(b, r, 200)
	r.round(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for p := 1; p <= 200; p++ {
			r.farm.addAll(5, p)
		}
		if res := r.round(b); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func FuzzCounterValue(f *testing.F) {
	for _, s := range []string{
		"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027\n",
		"# HELP c x\n# TYPE c counter\nc 1e3 1764100000000\n",
		"c NaN\n", "c +Inf\n", "# TYPE c summary\nc{quantile=\"0.5\"} 1\nc_sum 2\nc_count 3\n",
		"c{a=\"\\\"\"} 1\n", strings.Repeat("c 1\n", 3),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		v, err := CounterValue(strings.NewReader(text), "c")
		if err == nil && v != v {
			t.Fatalf("NaN returned as a value for %q", text)
		}
	})
}
