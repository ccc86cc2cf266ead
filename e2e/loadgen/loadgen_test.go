package loadgen

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/sources/scrape"
)

func read(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, err := scrape.CounterValue(strings.NewReader(string(b)), "http_requests_total")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTrafficIsSharedByPods(t *testing.T) {
	g := New(19876, 100)
	defer g.Close()
	for _, ip := range []string{"127.0.2.1", "127.0.2.2"} {
		if err := g.AddPod(ip); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agg, err := g.ServeAggregate(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a0, p0 := read(t, "http://"+agg), read(t, "http://127.0.2.1:19876")
	time.Sleep(500 * time.Millisecond)
	a1, p1 := read(t, "http://"+agg), read(t, "http://127.0.2.1:19876")
	if got := (a1 - a0) / 0.5; got < 80 || got > 120 {
		t.Errorf("aggregate rate %.0f/s, want about 100", got)
	}
	if got := (p1 - p0) / 0.5; got < 40 || got > 60 {
		t.Errorf("one pod of two: %.0f/s, want about 50", got)
	}
}
