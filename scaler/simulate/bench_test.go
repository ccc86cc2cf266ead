package simulate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// BenchmarkRunWeek replays the committed TV-spot week (604,800 steps of
// 1 s) through one strategy per sub-benchmark.
func BenchmarkRunWeek(b *testing.B) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(tracesDir, name))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	series, err := policies.ReadSeriesCSV(bytes.NewReader(read("tv-spot.csv")), "tv-spot.csv")
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.ParseFile("t.yaml", read("tv-spot.targets.yaml"))
	cfg.Merge(config.ParseFile("w.yaml", read("tv-spot.windows.yaml")))
	setup := Setup{Trace: Trace(series), Target: cfg.Targets[0], Windows: cfg.Windows, Startup: DefaultStartup, MetricDelay: DefaultMetricDelay}
	for _, s := range Strategies {
		b.Run(string(s), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(context.Background(), setup, []Strategy{s}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
