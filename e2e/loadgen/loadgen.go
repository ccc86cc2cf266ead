package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// serving counts the servers of all generators still open.
var serving atomic.Int64

// Serving returns how many pod and aggregate servers are still open, over
// all generators: 0 once every generator is closed and every aggregate's
// context has ended.
func Serving() int { return int(serving.Load()) }

// serve runs srv on l in the background, counted in serving until it
// stops.
func serve(srv *http.Server, l net.Listener) {
	serving.Add(1)
	go func() {
		defer serving.Add(-1)
		_ = srv.Serve(l)
	}()
}

// Generator serves the counters.
type Generator struct {
	port int

	mu      sync.Mutex
	rate    float64 // total requests per second
	last    time.Time
	total   float64
	pods    map[string]*pod // by IP
	servers []*http.Server
}

type pod struct {
	count float64
	srv   *http.Server
}

// New returns a generator whose pods listen on port; rate is the initial
// total rate.
func New(port int, rate float64) *Generator {
	return &Generator{port: port, rate: rate, last: time.Now(), pods: map[string]*pod{}}
}

// advance adds the requests served since the last call, shared by the pods.
func (g *Generator) advance() {
	now := time.Now()
	dt := now.Sub(g.last).Seconds()
	g.last = now
	served := g.rate * dt
	g.total += served
	if len(g.pods) == 0 {
		return
	}
	share := served / float64(len(g.pods))
	for _, p := range g.pods {
		p.count += share
	}
}

// Port is the port each pod's counter is served on.
func (g *Generator) Port() int { return g.port }

// SetRate changes the total request rate.
func (g *Generator) SetRate(rate float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance()
	g.rate = rate
}

// Rate returns the total request rate.
func (g *Generator) Rate() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rate
}

func counterText(v float64) string {
	return fmt.Sprintf("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total %f\n", v)
}

// AddPod starts serving a pod's counter on ip:port. Traffic is shared by
// the pods added and not removed.
func (g *Generator) AddPod(ip string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.pods[ip]; ok {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(g.port)))
	if err != nil {
		return err
	}
	g.advance()
	p := &pod{}
	p.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.mu.Lock()
		g.advance()
		v := p.count
		g.mu.Unlock()
		fmt.Fprint(w, counterText(v))
	})}
	g.pods[ip] = p
	serve(p.srv, l)
	return nil
}

// RemovePod stops a pod's server.
func (g *Generator) RemovePod(ip string) {
	g.mu.Lock()
	p, ok := g.pods[ip]
	if ok {
		g.advance()
		delete(g.pods, ip)
	}
	g.mu.Unlock()
	if ok {
		_ = p.srv.Close()
	}
}

// ServeAggregate serves the total counter on addr (for Prometheus) until
// ctx ends, and returns the address it listens on.
func (g *Generator) ServeAggregate(ctx context.Context, addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.mu.Lock()
		g.advance()
		v := g.total
		g.mu.Unlock()
		fmt.Fprint(w, counterText(v))
	})}
	serve(srv, l)
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return l.Addr().String(), nil
}

// Close stops every pod server.
func (g *Generator) Close() {
	g.mu.Lock()
	ips := make([]string, 0, len(g.pods))
	for ip := range g.pods {
		ips = append(ips, ip)
	}
	g.mu.Unlock()
	for _, ip := range ips {
		g.RemovePod(ip)
	}
}
