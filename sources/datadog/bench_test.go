package datadog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
)

// BenchmarkRefresh measures one refresh of all targets' Datadog queries
// against the fake API, and reports the API calls it cost next to what one
// call per target (KEDA's Datadog scaler, one query per ScaledObject per
// polling interval) would cost.
func BenchmarkRefresh(b *testing.B) {
	for _, tc := range []struct{ targets, distinct int }{
		{100, 60}, {1000, 300}, {10000, 2000},
	} {
		b.Run(fmt.Sprintf("targets=%d/distinct=%d", tc.targets, tc.distinct), func(b *testing.B) {
			fake, srv := newFake(b)
			fake.limit = 1 << 30
			src, err := New(Config{APIKey: testAPIKey, AppKey: testAppKey, Endpoint: srv.URL, Logger: zap.NewNop()})
			if err != nil {
				b.Fatal(err)
			}
			qs := targetsWithQueries(tc.targets, tc.distinct)
			now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res := src.Fetch(context.Background(), qs, now)
				if len(res) != tc.distinct {
					b.Fatalf("%d results", len(res))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(fake.callCount())/float64(b.N), "calls/refresh")
			b.ReportMetric(float64(tc.targets), "keda-calls/refresh")
		})
	}
}
