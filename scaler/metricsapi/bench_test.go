package metricsapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/cmd/options"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/sources"
	promsource "github.com/primetime-dev/primetime/sources/prometheus"
)

const benchPath = "/apis/external.metrics.k8s.io/v1beta1/namespaces/storefront/primetime_replicas?labelSelector=target%3Dweb"

func freePort(b testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAPI runs the real external metrics API server (custom-metrics-
// apiserver's generic API server: TLS, authentication and authorization
// filters, content negotiation) serving a board with one target. Clients
// authenticate with a client certificate, as the aggregation layer does
// (anonymous HTTP/2 clients get one request per connection, a DoS
// mitigation); the group system:masters is authorized without a cluster.
func startAPI(b testing.TB, ctx context.Context, clientCA []byte, board *scaler.Board) string {
	b.Helper()
	klog.SetLogger(logr.Discard())
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	_ = os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: x, user: {}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n"), 0o600)
	port := freePort(b)
	adapter := &basecmd.AdapterBase{Name: "bench", FlagSet: pflag.NewFlagSet("bench", pflag.ContinueOnError)}
	adapter.CustomMetricsAdapterServerOptions = options.NewCustomMetricsAdapterServerOptions()
	adapter.Authentication.RemoteKubeConfigFileOptional = true
	adapter.Authorization.RemoteKubeConfigFileOptional = true
	adapter.InstallFlags()
	if err := adapter.Flags().Parse([]string{
		fmt.Sprintf("--secure-port=%d", port), "--bind-address=127.0.0.1", "--cert-dir=" + dir,
		"--authentication-skip-lookup", "--client-ca-file=" + testbed.WriteFile(b, dir, "client-ca.crt", clientCA),
		"--lister-kubeconfig=" + kubeconfig,
	}); err != nil {
		b.Fatal(err)
	}
	adapter.WithExternalMetrics(NewProvider(board, 24*time.Hour, nil))
	go func() { _ = adapter.Run(ctx) }()
	return fmt.Sprintf("https://127.0.0.1:%d", port)
}

// waitReady polls url until it answers 200.
func waitReady(b testing.TB, url string) {
	b.Helper()
	client := newClient(clientCert)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("API answers %d: %s", resp.StatusCode, body)
			}
		} else if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startBare serves the same JSON from a bare net/http handler over TLS.
func startBare(b testing.TB, body []byte) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv.URL
}

// clientCert is the benchmark client's certificate, like the aggregator's.
var clientCert tls.Certificate

func newClient(cert tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}},
		ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64,
	}}
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// throughput runs closed-loop requests from 16 workers for d.
func throughput(b *testing.B, url string, d time.Duration) float64 {
	client := newClient(clientCert)
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := get(client, url); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

// p99At sends rate requests per second (open loop) for d and returns the
// 99th percentile latency.
func p99At(b *testing.B, url string, rate int, d time.Duration) time.Duration {
	client := newClient(clientCert)
	_ = get(client, url) // warm the connection
	total := int(d.Seconds() * float64(rate))
	lat := make([]time.Duration, total)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			if err := get(client, url); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(t0)
		}(i)
	}
	wg.Wait()
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// serveEnv makes the test binary a benchmark server process (see
// TestBenchServer) instead of running tests.
const serveEnv = "PRIMETIME_BENCH_SERVE"

// TestBenchServer is not a test: started by BenchmarkExternalMetricsAPI in
// a child process pinned to one core, it serves either the external
// metrics API ("api") or the bare handler ("bare"), prints its URL and
// runs until its standard input closes.
func TestBenchServer(t *testing.T) {
	mode := os.Getenv(serveEnv)
	if mode == "" {
		t.Skip("only run as the benchmark's server process")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var url string
	switch mode {
	case "api":
		board := &scaler.Board{}
		replicas, load := int32(100), 5000.0
		board.Replace([]scaler.Published{{Namespace: "storefront", Name: "web", Replicas: &replicas, Load: &load, At: time.Now().Add(time.Hour)}}, time.Now())
		url = startAPI(t, ctx, []byte(os.Getenv("PRIMETIME_BENCH_CLIENT_CA")), board)
	case "api-slow-source":
		url = startAPI(t, ctx, []byte(os.Getenv("PRIMETIME_BENCH_CLIENT_CA")), slowSourceBoard(t, ctx))
	default:
		url = startBare(t, []byte(os.Getenv("PRIMETIME_BENCH_BODY")))
	}
	fmt.Println("URL " + url)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// spawnServer starts the test binary as a server process on core 0.
func spawnServer(b *testing.B, mode string, env ...string) string {
	b.Helper()
	cmd := exec.Command("taskset", "-c", "0", os.Args[0], "-test.run=^TestBenchServer$", "-test.v")
	cmd.Env = append(append(os.Environ(), serveEnv+"="+mode, "GOMAXPROCS=1"), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url
		}
	}
	b.Fatalf("the %s server process did not start", mode)
	return ""
}

// spawnAPI pins the benchmark to core 1, makes the client certificate
// the aggregation layer would present, and starts the external metrics
// API server process in mode on core 0; it returns the metric's URL.
func spawnAPI(b *testing.B, mode string) string {
	b.Helper()
	if err := exec.Command("taskset", "-p", "-c", "1", strconv.Itoa(os.Getpid())).Run(); err != nil {
		b.Skipf("taskset: %v", err)
	}
	ca := testbed.NewCA(b, "bench-client-ca")
	certPEM, keyPEM := ca.IssueClient(b, "front-proxy-client", "system:masters")
	var err error
	if clientCert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		b.Fatal(err)
	}
	return spawnServer(b, mode, "PRIMETIME_BENCH_CLIENT_CA="+string(ca.CertPEM)) + benchPath
}

// BenchmarkExternalMetricsAPI compares the external metrics API (the full
// API server stack, with the client-certificate authentication the
// aggregation layer uses) with a bare net/http handler over TLS returning
// the same JSON. Each server runs alone on core 0 with GOMAXPROCS=1; the
// load generator runs on core 1. Run with -benchtime 1x: each run measures
// for fixed times.
func BenchmarkExternalMetricsAPI(b *testing.B) {
	api := spawnAPI(b, "api")
	waitReady(b, api)
	resp, err := newClient(clientCert).Get(api)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	bare := spawnServer(b, "bare", "PRIMETIME_BENCH_BODY="+string(body)) + benchPath
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		apiRPS, bareRPS := throughput(b, api, 3*time.Second), throughput(b, bare, 3*time.Second)
		apiP99, bareP99 := p99At(b, api, 1000, 5*time.Second), p99At(b, bare, 1000, 5*time.Second)
		b.ReportMetric(apiRPS, "api-req/s")
		b.ReportMetric(bareRPS, "bare-req/s")
		b.ReportMetric(apiRPS/bareRPS, "throughput-ratio")
		b.ReportMetric(float64(apiP99.Microseconds())/1000, "api-p99-ms@1000rps")
		b.ReportMetric(float64(bareP99.Microseconds())/1000, "bare-p99-ms@1000rps")
	}
}

// slowSourceBoard is the daemon's composition (config store, poller,
// engine every second) with a Prometheus source whose server answers
// 100 req/s once, then takes 5 s per query against the source's 3 s
// timeout: the board keeps the last good decision while every fetch hangs.
func slowSourceBoard(t testing.TB, ctx context.Context) *scaler.Board {
	var calls atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) > 1 {
			select {
			case <-time.After(5 * time.Second):
			case <-req.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"5000"]}]}}`, time.Now().Unix())
	}))
	t.Cleanup(slow.Close)
	src, err := promsource.New(promsource.Config{URL: slow.URL, Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := configwatch.NewStore(nil, nil)
	store.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "storefront", Name: "targets", ResourceVersion: "1"},
		Data: map[string]string{"t.yaml": "targets:\n  - {name: web, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: 'sum(rate(x[1m]))'}, capacityPerReplica: 50, maxReplicas: 300}\n"}})
	poller := sources.NewPoller(sources.NewCache())
	poller.Register(sources.Registration{Source: src, Interval: time.Second, MaxAge: time.Minute})
	board := &scaler.Board{}
	engine := &scaler.Engine{Interval: time.Second, Config: store, Poller: poller, Board: board}
	engine.SyncConfig()
	go poller.Run(ctx, ground.SourcePrometheus, time.Now, nil)
	go engine.Run(ctx, time.Now, nil)
	for !board.Ready() || len(board.All()) == 0 || board.All()[0].Replicas == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return board
}

// BenchmarkAPIWhileTheSourceHangs measures the full external metrics API
// (as BenchmarkExternalMetricsAPI) while every fetch of its only source
// hangs past the source's timeout: p99 at 100 and 1,000 req/s, the HPA's
// request rates for about 1,500 and 15,000 HPAs at a 15 s sync.
func BenchmarkAPIWhileTheSourceHangs(b *testing.B) {
	api := spawnAPI(b, "api-slow-source")
	waitReady(b, api)
	b.ResetTimer()
	for range b.N {
		b.ReportMetric(float64(p99At(b, api, 100, 5*time.Second).Microseconds())/1000, "p99-ms@100rps")
		b.ReportMetric(float64(p99At(b, api, 1000, 5*time.Second).Microseconds())/1000, "p99-ms@1000rps")
	}
}

// BenchmarkProvider measures primetime's own share of a request: looking a
// target up on the board and building the answer, without the API server.
func BenchmarkProvider(b *testing.B) {
	board := &scaler.Board{}
	entries := make([]scaler.Published, 10000)
	for i := range entries {
		r, l := int32(i%300), float64(i)
		entries[i] = scaler.Published{Namespace: fmt.Sprintf("ns-%d", i%100), Name: fmt.Sprintf("app-%d", i), Replicas: &r, Load: &l, At: time.Now()}
	}
	board.Replace(entries, time.Now())
	p := NewProvider(board, time.Hour, nil)
	sel := labels.SelectorFromSet(labels.Set{"target": "app-4242"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := p.GetExternalMetric(context.Background(), "ns-42", sel, provider.ExternalMetricInfo{Metric: MetricReplicas})
		if err != nil || len(list.Items) != 1 {
			b.Fatal(err)
		}
	}
}
