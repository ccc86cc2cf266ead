package scaler

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"
)

// StatusServer serves /metrics, /healthz and /readyz on the metrics
// address (--metrics-addr), and any page added with Handle.
type StatusServer struct {
	srv     *http.Server
	mux     *http.ServeMux
	metrics *metricsHandler
}

// NewStatusServer returns a server of reg's metrics; ready says why the
// replica is not ready, or nil when it is; healthy (optional) why it is
// not alive.
func NewStatusServer(addr string, reg prometheus.Gatherer, ready func() error, healthy func(*http.Request) error) *StatusServer {
	mux := http.NewServeMux()
	metrics := &metricsHandler{reg: reg}
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if healthy != nil {
			if err := healthy(r); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return &StatusServer{mux: mux, metrics: metrics, srv: &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
}

// AddSeries has /metrics write, after the registry's metrics, the series
// write writes in the text format (Metrics.WriteTargetSeries). Call it
// before Run.
func (s *StatusServer) AddSeries(write func(io.Writer) error) {
	s.metrics.series = append(s.metrics.series, write)
}

// MetricsHandler is the /metrics of a status server over reg and series,
// for tests.
func MetricsHandler(reg prometheus.Gatherer, series ...func(io.Writer) error) http.Handler {
	return &metricsHandler{reg: reg, series: series}
}

// metricsHandler serves the registry's metrics and the series written
// straight in the text format, which every Prometheus scraper accepts
// (and the Datadog Agent's OpenMetrics check), gzipped when asked.
type metricsHandler struct {
	reg    prometheus.Gatherer
	series []func(io.Writer) error
}

func (h *metricsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mfs, err := h.reg.Gather()
	if err != nil {
		http.Error(w, "gathering the metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	var out io.Writer = w
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	enc := expfmt.NewEncoder(bw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return // the client went away
		}
	}
	for _, write := range h.series {
		if err := write(bw); err != nil {
			return
		}
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}

// Profiling serves Go's profiles under /debug/pprof/ (as the Kubernetes
// components' --profiling does): heap, goroutines, CPU.
func (s *StatusServer) Profiling() {
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// Handle adds a page.
func (s *StatusServer) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Start serves in the background; a failure to listen is logged.
func (s *StatusServer) Start(log *zap.Logger) {
	go func() {
		if err := s.srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", zap.Error(err))
		}
	}()
}

// Shutdown stops serving, letting requests in flight finish for up to 5 s.
func (s *StatusServer) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
