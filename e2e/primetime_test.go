// Package e2e drives primetime against a real control plane on loopback:
// etcd, kube-apiserver with its aggregation layer, the controller manager
// with the real HPA controller, and Prometheus, all started by the tests
// (see e2e/testbed and e2e/stage). make e2e runs it.
package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// exporter serves a counter growing at a rate the test can change, like a
// web app's http_requests_total.
type exporter struct {
	*httptest.Server
	mu    sync.Mutex
	total float64
	rate  float64
	last  time.Time
}

func newExporter(t testing.TB, rate float64) *exporter {
	e := &exporter{rate: rate, last: time.Now()}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		now := time.Now()
		e.total += e.rate * now.Sub(e.last).Seconds()
		e.last = now
		v := e.total
		e.mu.Unlock()
		fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total %f\n", v)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *exporter) hostPort() string { return strings.TrimPrefix(e.URL, "http://") }
