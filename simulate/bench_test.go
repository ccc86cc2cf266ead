package simulate

import (
	"context"
	"testing"
)

// BenchmarkRunWeek replays the committed TV-spot week (604,800 steps of
// 1 s) through one strategy per sub-benchmark.
func BenchmarkRunWeek(b *testing.B) {
	setup := committedSetup(b, TraceTVSpot)
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
