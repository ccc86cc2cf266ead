package testbed

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// MetricsRouter lets several scenarios share one control plane although a
// cluster has only one external metrics API: it is the APIService's one
// backend, and forwards each namespaced request to the server registered
// for that namespace, as the aggregator itself would forward to a single
// server. It presents the aggregator's front-proxy client certificate, so
// the user the aggregator authenticated reaches the server unchanged (and
// the server authorizes it as usual). Requests that name no namespace
// (discovery) go to the first registered server that answers.
type MetricsRouter struct {
	// Port is where the router listens, on 127.0.0.1.
	Port int
	// CA issued the router's serving certificate (the APIService's caBundle).
	CA *CA

	frontProxy tls.Certificate
	srv        *http.Server

	mu sync.Mutex
	// routes are each namespace's servers, the newest first: like a
	// Service's endpoints, a request goes to the first that answers (a
	// replica that exited, or a restarted one's predecessor, is skipped).
	routes map[string][]*route
	order  []*route
}

type route struct {
	namespace string
	addr      string
	client    *http.Client
}

// externalPrefix is the path of the external metrics API group version.
const externalPrefix = "/apis/external.metrics.k8s.io/v1beta1"

// StartMetricsRouter starts the router for c and registers it as c's
// external metrics API; it stops when the suite or test ends.
func StartMetricsRouter(t T, c *Cluster) *MetricsRouter {
	t.Helper()
	ca := NewCA(t, "metrics-router-ca")
	certPEM, keyPEM := ca.Issue(t, "primetime", "primetime.primetime.svc", "localhost", "127.0.0.1")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &MetricsRouter{Port: l.Addr().(*net.TCPAddr).Port, CA: ca, frontProxy: c.FrontProxy, routes: map[string][]*route{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	go func() { _ = r.srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = r.srv.Close() })
	c.ExternalMetricsServer(t, "primetime", "primetime", r.Port, ca.CertPEM)
	c.Router = r
	return r
}

// Route sends namespace's requests to the server at addr (host:port),
// whose certificate caPEM verifies, until the test ends: to it first, to
// the namespace's earlier servers (other replicas, a restarted one's
// predecessor) when it cannot be reached, as a Service would once the
// dead endpoint left it.
func (r *MetricsRouter) Route(t T, namespace, addr string, caPEM []byte) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("metrics router: the server's CA is not PEM")
	}
	rt := &route{namespace: namespace, addr: addr, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{r.frontProxy}, MinVersion: tls.VersionTLS12}},
	}}
	r.mu.Lock()
	r.routes[namespace] = append([]*route{rt}, r.routes[namespace]...)
	r.order = append(r.order, rt)
	r.mu.Unlock()
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.routes[namespace] = slices.DeleteFunc(r.routes[namespace], func(o *route) bool { return o == rt })
		if len(r.routes[namespace]) == 0 {
			delete(r.routes, namespace)
		}
		for i, o := range r.order {
			if o == rt {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
	})
}

// ServeHTTP forwards a request.
func (r *MetricsRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if ns, ok := namespaceOf(req.URL.Path); ok {
		r.mu.Lock()
		rts := slices.Clone(r.routes[ns])
		r.mu.Unlock()
		if len(rts) == 0 {
			http.Error(w, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"no external metrics server for namespace %s in this test bed"}`, ns), http.StatusNotFound)
			return
		}
		for _, rt := range rts {
			if rt.forward(w, req) {
				return
			}
		}
		http.Error(w, "the external metrics server of "+ns+" does not answer", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	order := append([]*route(nil), r.order...)
	r.mu.Unlock()
	for _, rt := range order {
		if rt.forward(w, req) {
			return
		}
	}
	if req.URL.Path == externalPrefix {
		// No server yet: the group version is there, with no metric.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"external.metrics.k8s.io/v1beta1","resources":[]}`)
		return
	}
	http.Error(w, "no external metrics server registered yet", http.StatusServiceUnavailable)
}

// namespaceOf returns the namespace a request of the external metrics API
// names.
func namespaceOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, externalPrefix+"/namespaces/")
	if !ok {
		return "", false
	}
	ns, _, _ := strings.Cut(rest, "/")
	return ns, ns != ""
}

// forward relays req to the route's server and its answer to w; it
// reports false, having written nothing, when the server cannot be reached.
func (rt *route) forward(w http.ResponseWriter, req *http.Request) bool {
	out, err := http.NewRequestWithContext(req.Context(), req.Method, "https://"+rt.addr+req.URL.RequestURI(), req.Body)
	if err != nil {
		return false
	}
	out.Header = req.Header.Clone()
	resp, err := rt.client.Do(out)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	return true
}
