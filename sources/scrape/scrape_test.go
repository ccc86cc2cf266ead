package scrape

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

// farm serves a counter on 127.0.1.N:port for each fake pod N, each with a
// value the test sets, like a fleet of pods exposing /metrics.
type farm struct {
	port   int
	mu     sync.Mutex
	values map[string]float64 // pod IP -> counter value
	down   map[string]bool    // pod IP -> answers 500
	hang   map[string]bool    // pod IP -> never answers
}

func newFarm(t testing.TB, n int) *farm {
	t.Helper()
	f := &farm{values: map[string]float64{}, down: map[string]bool{}, hang: map[string]bool{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.Host)
		f.mu.Lock()
		v, down, hang := f.values[ip], f.down[ip], f.hang[ip]
		f.mu.Unlock()
		switch {
		case hang:
			<-r.Context().Done()
			return
		case down:
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} %g\nhttp_requests_total{code=\"500\"} 0\n# TYPE other gauge\nother 5\n", v)
	})
	for i := 1; i <= n; i++ {
		addr := fmt.Sprintf("%s:%d", podIP(i), f.port)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", addr, err)
		}
		if f.port == 0 {
			f.port = l.Addr().(*net.TCPAddr).Port
		}
		srv := &http.Server{Handler: handler}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	}
	return f
}

func podIP(i int) string { return fmt.Sprintf("127.0.1.%d", i) }

func (f *farm) set(i int, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[podIP(i)] = v
}

func (f *farm) addAll(delta float64, pods ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range pods {
		f.values[podIP(i)] += delta
	}
}

// pod is a running pod, ready since long before the tests' clock.
func pod(i int, app string) *corev1.Pod {
	return podReadyAt(i, app, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
}

// podReadyAt is a running pod that became ready at readyAt; zero for one
// still starting.
func podReadyAt(i int, app string, readyAt time.Time) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Namespace: "shop", UID: types.UID(fmt.Sprintf("uid-%d", i)), Labels: map[string]string{"app": app}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP(i)},
	}
	if !readyAt.IsZero() {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readyAt)}}
	}
	return p
}

func scrapeQuery(port int) sources.Query {
	return sources.Query{Namespace: "shop", Spec: ground.LoadSpec{Scrape: &ground.ScrapeSpec{
		Selector: "app=web", Port: int32(port), Path: "/metrics", Counter: "http_requests_total"}}}
}

type rig struct {
	farm   *farm
	client *fake.Clientset
	src    *Source
	q      sources.Query
	now    time.Time
}

func newRig(t testing.TB, pods, listeners int) *rig {
	t.Helper()
	f := newFarm(t, listeners)
	client := fake.NewClientset()
	for i := 1; i <= pods; i++ {
		if _, err := client.CoreV1().Pods("shop").Create(context.Background(), pod(i, "web"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A pod of another app in the same namespace is never scraped.
	_, _ = client.CoreV1().Pods("shop").Create(context.Background(), pod(250, "other"), metav1.CreateOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	src := New(NewInformerPods(ctx, client), Config{Timeout: 500 * time.Millisecond})
	return &rig{farm: f, client: client, src: src, q: scrapeQuery(f.port), now: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)}
}

// round advances the clock by 5s and scrapes once.
func (r *rig) round(t testing.TB) sources.Result {
	t.Helper()
	r.now = r.now.Add(5 * time.Second)
	return r.src.Fetch(context.Background(), []sources.Query{r.q}, r.now)[r.q.Key()]
}

func wantRate(t *testing.T, r sources.Result, want float64) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("error %v, want rate %v", r.Err, want)
	}
	if d := r.Value.V - want; d > 1e-9 || d < -1e-9 {
		t.Fatalf("rate %v, want %v", r.Value.V, want)
	}
}

func TestRateSumsPodsAndSurvivesCounterReset(t *testing.T) {
	r := newRig(t, 2, 2)
	r.farm.set(1, 1000)
	r.farm.set(2, 50)
	if res := r.round(t); !errors.Is(res.Err, sources.ErrNoData) {
		t.Fatalf("first scrape: %v, want no data (a rate needs two scrapes)", res.Err)
	}
	r.farm.addAll(100, 1) // 20/s
	r.farm.addAll(50, 2)  // 10/s
	wantRate(t, r.round(t), 30)
	// Pod 1 restarts: its counter falls back to 40. The increase since the
	// reset is 40 over 5s = 8/s, not a negative rate.
	r.farm.set(1, 40)
	r.farm.addAll(50, 2)
	wantRate(t, r.round(t), 8+10)
	r.farm.addAll(100, 1, 2)
	wantRate(t, r.round(t), 40)
}

func TestPodsComeAndGo(t *testing.T) {
	r := newRig(t, 2, 3)
	r.round(t)
	r.farm.addAll(50, 1, 2)
	wantRate(t, r.round(t), 20)

	// A third pod starts: it counts from its second scrape on.
	if _, err := r.client.CoreV1().Pods("shop").Create(context.Background(), pod(3, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, r, 3)
	r.farm.set(3, 500)
	r.farm.addAll(50, 1, 2)
	wantRate(t, r.round(t), 20)
	r.farm.addAll(50, 1, 2, 3)
	wantRate(t, r.round(t), 30)

	// Pod 1 goes away: its rate leaves the sum at once.
	if err := r.client.CoreV1().Pods("shop").Delete(context.Background(), "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, r, 2)
	r.farm.addAll(50, 2, 3)
	wantRate(t, r.round(t), 20)
}

// TestNewPodsTakeTheirShareAtOnce is a scale-up behind a Service: the
// traffic spreads over the pods that became ready, and the sum must stay
// the total load, not fall by their share for a round (which would read as
// a drop in load just as capacity is added). Pods still starting are not
// scraped.
func TestNewPodsTakeTheirShareAtOnce(t *testing.T) {
	r := newRig(t, 2, 4)
	r.round(t)
	r.farm.addAll(50, 1, 2) // 20/s over two pods
	wantRate(t, r.round(t), 20)

	// Pod 3 becomes ready half-way through the next round.
	ready := r.now.Add(2500 * time.Millisecond)
	for _, p := range []*corev1.Pod{podReadyAt(3, "web", ready), podReadyAt(4, "web", time.Time{})} {
		if _, err := r.client.CoreV1().Pods("shop").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitForPods(t, r, 4)
	r.farm.set(4, 1000) // starting: answers, but gets no traffic and is not counted
	// Still 20/s: over pods 1 and 2 for 2.5 s, then over the three.
	r.farm.addAll(25, 1, 2)
	r.farm.addAll(50.0/3, 1, 2, 3)
	wantRate(t, r.round(t), 20)
	r.farm.addAll(100.0/3, 1, 2, 3)
	wantRate(t, r.round(t), 20)
}

func waitForPods(t testing.TB, r *rig, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pods, _ := r.src.pods.Pods("shop", mustSelector("app=web"))
		if len(pods) == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the informer did not see %d pods", n)
}

func TestFailingPodsNeverReadAsZero(t *testing.T) {
	r := newRig(t, 4, 4)
	r.round(t)
	r.farm.addAll(50, 1, 2, 3, 4)
	wantRate(t, r.round(t), 40)

	// Pod 4 fails: its last rate stands in while it is recent.
	r.farm.mu.Lock()
	r.farm.down[podIP(4)] = true
	r.farm.mu.Unlock()
	r.farm.addAll(50, 1, 2, 3)
	wantRate(t, r.round(t), 40)

	// Past MaxRateAge its share is estimated from the other pods.
	for i := 0; i < 6; i++ {
		r.farm.addAll(100, 1, 2, 3)
		r.round(t)
	}
	r.farm.addAll(100, 1, 2, 3)
	wantRate(t, r.round(t), 80) // 3 pods at 20/s, scaled to 4 pods

	// A pod that hangs is cut off by the timeout, and when most pods fail
	// the result is an error, not a small number.
	r.farm.mu.Lock()
	r.farm.hang[podIP(1)] = true
	r.farm.down[podIP(2)] = true
	r.farm.mu.Unlock()
	start := time.Now()
	for i := 0; i < 7; i++ {
		r.round(t)
	}
	res := r.round(t)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "pods cannot be scraped") {
		t.Fatalf("3 of 4 pods failing: %+v, want an error", res)
	}
	if took := time.Since(start); took > 8*2*time.Second {
		t.Errorf("8 rounds with a hanging pod took %s; the 500ms timeout does not hold", took)
	}
}

func TestNoPodsIsNoData(t *testing.T) {
	r := newRig(t, 0, 1)
	res := r.round(t)
	if !errors.Is(res.Err, sources.ErrNoData) || !strings.Contains(res.Err.Error(), "no running pod matches") {
		t.Fatalf("got %v", res.Err)
	}
}

func TestTwoHundredPodsInOneInterval(t *testing.T) {
	r := newRig(t, 200, 200)
	waitForPods(t, r, 200)
	r.round(t)
	for i := 1; i <= 200; i++ {
		r.farm.addAll(float64(i), i) // pod i serves i/5 requests per second
	}
	start := time.Now()
	res := r.round(t)
	took := time.Since(start)
	wantRate(t, res, 200*201/2/5.0)
	if took > DefaultInterval {
		t.Errorf("one round of 200 pods took %s, longer than the %s scrape interval", took, DefaultInterval)
	}
	t.Logf("one round of 200 pods: %s", took)
}

func TestCounterValue(t *testing.T) {
	cases := []struct {
		name, text string
		want       float64
		words      string
	}{
		{"summed over labels", "# TYPE c counter\nc{a=\"1\"} 2\nc{a=\"2\"} 3\n", 5, ""},
		{"untyped", "c 7\n", 7, ""},
		{"missing", "# TYPE d counter\nd 1\n", 0, "no metric"},
		{"histogram", "# TYPE c histogram\nc_bucket{le=\"1\"} 1\nc_bucket{le=\"+Inf\"} 1\nc_sum 1\nc_count 1\n", 0, "want a counter"},
		{"garbage", "c{ 1\n", 0, "do not parse"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := CounterValue(strings.NewReader(tc.text), "c")
			if tc.words != "" {
				if err == nil || !strings.Contains(err.Error(), tc.words) {
					t.Fatalf("err %v, want %q", err, tc.words)
				}
				return
			}
			if err != nil || v != tc.want {
				t.Fatalf("got %v, %v; want %v", v, err, tc.want)
			}
		})
	}
}
