package datadog

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/primetime-dev/primetime/ground"
	"go.uber.org/zap"
)

// FuzzDecodeResponse feeds arbitrary query API answers to the decoding:
// it never panics, answers every query of the batch, and a value it
// returns is a finite number from a bucket that ended at least a rollup
// before now.
func FuzzDecodeResponse(f *testing.F) {
	now := t0.Unix()
	for _, seed := range []string{
		`{"status":"ok","series":[{"interval":30,"pointlist":[[1795636710000,12.5],[1795636740000,13],[1795636770000,1.3]],"query_index":0},` +
			`{"interval":30,"pointlist":[[1795636710000,null],[1795636740000,7]],"query_index":1}]}`,
		`{"status":"ok","series":[{"pointlist":[[1795636780000,3],[1795636790000,4]]}]}`,
		`{"status":"ok","series":[{"interval":1,"pointlist":[[1795636760000,1]],"query_index":0},{"interval":20,"pointlist":[[1795636760000,2]],"query_index":0}]}`,
		`{"status":"error","error":"Rule parsing error"}`,
		`{"status":"ok","series":[{"interval":-20,"pointlist":[[null,1],[1795636760000],[]],"query_index":7}]}`,
		`{"status":"ok","series":[{"interval":300,"pointlist":[[1795636200000,1200],[1795636500000,300]]}]}`,
		`{"series":[]}`,
	} {
		f.Add([]byte(seed), uint8(2))
	}
	src, err := New(Config{APIKey: "a", AppKey: "b", Logger: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		var resp datadogV1.MetricsQueryResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return // the client refuses what does not decode
		}
		batch := make([]string, int(n%6)+1)
		for i := range batch {
			batch[i] = "sum:q{i}"
		}
		per := src.byQueryIndex(&resp, batch)
		if len(per) != len(batch) {
			t.Fatalf("%d results for %d queries", len(per), len(batch))
		}
		for i, list := range per {
			r := latest(list, batch[i], time.Unix(now, 0), DefaultRollup, ground.DatadogRollup(batch[i]))
			if r.Err != nil {
				continue
			}
			if math.IsNaN(r.Value.V) || math.IsInf(r.Value.V, 0) {
				t.Fatalf("query %d: value %v", i, r.Value.V)
			}
			if r.Value.At.Unix() > now-int64(DefaultRollup/time.Second) {
				t.Fatalf("query %d: a value from %s, less than a rollup before now", i, r.Value.At)
			}
		}
	})
}
