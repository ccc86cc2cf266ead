package testbed

import (
	"io"
	"net"
	"sync"
	"time"
)

// ServiceProxy plays kube-proxy for a Service with several pods on
// loopback: it forwards each TCP connection to the next backend that
// accepts it, so that a dead replica drops out as its endpoint would.
type ServiceProxy struct {
	// Port is where the proxy listens, on 127.0.0.1.
	Port     int
	l        net.Listener
	backends []string

	mu    sync.Mutex
	next  int
	conns map[net.Conn]bool
}

// StartServiceProxy listens on a free loopback port until the test ends.
func StartServiceProxy(t T, backends ...string) *ServiceProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ServiceProxy{Port: l.Addr().(*net.TCPAddr).Port, l: l, backends: backends, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *ServiceProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

// dial connects to the backends in turn, starting after the last one used.
func (p *ServiceProxy) dial() net.Conn {
	p.mu.Lock()
	first := p.next
	p.next = (p.next + 1) % len(p.backends)
	p.mu.Unlock()
	for i := range p.backends {
		b := p.backends[(first+i)%len(p.backends)]
		if c, err := net.DialTimeout("tcp", b, time.Second); err == nil {
			return c
		}
	}
	return nil
}

func (p *ServiceProxy) forward(in net.Conn) {
	out := p.dial()
	if out == nil || !p.track(in, out) {
		in.Close()
		if out != nil {
			out.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done // either side gone: close both
	in.Close()
	out.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// track records live connections so that close can end them; false once
// the proxy is closed.
func (p *ServiceProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *ServiceProxy) close() {
	p.l.Close()
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}
