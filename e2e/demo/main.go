package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/klog/v2"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
)

func main() {
	o := options{}
	flag.DurationVar(&o.lead, "lead", 75*time.Second, "the target's leadTime: capacity in place this long before the spot")
	flag.DurationVar(&o.until, "starts-in", 2*time.Minute, "the spot starts this long after the windows ConfigMap is written")
	flag.DurationVar(&o.duration, "duration", time.Minute, "the spot's duration")
	flag.DurationVar(&o.after, "after", 75*time.Second, "how long the table goes on after the cooldown (the step-down)")
	flag.DurationVar(&o.startup, "startup", 20*time.Second, "a pod's start-up delay, created to ready")
	flag.Float64Var(&o.rate, "rate", 42, "normal traffic, requests/s (10 per replica)")
	flag.Float64Var(&o.spike, "spike", 4, "the spot's traffic, times normal (the window's expect)")
	flag.StringVar(&o.logDir, "logs", "", "directory for the programs' logs (default: a temporary one, printed)")
	flag.Parse()
	os.Exit(run(o))
}

type options struct {
	lead, until, duration, after, startup time.Duration
	rate, spike                           float64
	logDir                                string
}

func run(o options) (code int) {
	base, err := os.MkdirTemp("", "primetime-demo")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if o.logDir == "" {
		o.logDir = filepath.Join(os.TempDir(), fmt.Sprintf("primetime-demo-logs-%d", os.Getpid()))
	}
	if err := os.MkdirAll(o.logDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The test bed writes each program's output there when it stops.
	_ = os.Setenv("PRIMETIME_E2E_LOGS", o.logDir)
	logFile, err := os.Create(filepath.Join(o.logDir, "demo.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	// The test bed outside go test: cleanups run in reverse when the demo
	// ends or is interrupted, a fatal error ends it.
	r := &testbed.Suite{Dir: base, Log: logFile}
	var cleanOnce sync.Once
	cleanup := func() { cleanOnce.Do(func() { r.Close(); _ = os.RemoveAll(base) }) }
	// client-go's own messages (a watch cut when the API server stops)
	// go to the log, not over the table.
	klog.LogToStderr(false)
	klog.SetOutput(logFile)

	// Ctrl-C ends the table at once; if the demo is still starting the
	// control plane (those calls do not watch ctx), clean up from here. A
	// second Ctrl-C exits at once: the programs die with the demo anyway
	// (they get SIGKILL when their parent exits).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finished := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Println("\nstopping: cleaning up (Ctrl-C again to exit at once) ...")
		cancel()
		go func() { <-sig; os.Exit(130) }()
		select {
		case <-finished:
			return
		case <-time.After(3 * time.Second):
		}
		cleanup()
		os.Exit(130)
	}()
	defer func() {
		fmt.Println("stopping everything the demo started ...")
		cleanup()
		if left := testbed.Leftovers(); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "left behind: %v\n", left)
			code = 1
		}
		fmt.Printf("done; the programs' logs are in %s\n", o.logDir)
		close(finished)
	}()
	err = r.Setup(func() { code = demo(ctx, r, o) })
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Println("interrupted")
		code = 130
	default:
		fmt.Fprintf(os.Stderr, "demo failed: %v\n(logs in %s)\n", err, o.logDir)
		code = 1
	}
	return code
}

// cooldown is the spot's cooldown: the floor stays this long after it.
const cooldown = 30 * time.Second

// windows is the windows ConfigMap's text for a spot starting at start.
func (o options) windows(start time.Time, cooldown time.Duration) string {
	return fmt.Sprintf(`windows:
  - name: tf1-spot
    start: %q
    duration: %s
    cooldown: %s
    expect: %gx
    targets: [storefront/web]
`, start.UTC().Format(time.RFC3339), config.FormatDuration(o.duration), config.FormatDuration(cooldown), o.spike)
}

func demo(ctx context.Context, r *testbed.Suite, o options) int {
	step := func(msg string) func() {
		start := time.Now()
		fmt.Printf("  %-76s", msg+" ...")
		return func() { fmt.Printf(" %5.1fs\n", time.Since(start).Seconds()) }
	}
	fmt.Println("primetime demo: a TV spot on a real Kubernetes control plane on loopback")
	// What primetime lint would say, before starting anything: the
	// demo's flags make the window.
	if res := config.ParseFile("tv-spots", []byte(o.windows(time.Now().Add(o.until), cooldown))); len(res.Problems) > 0 {
		r.Fatalf("the window the flags make is not valid: %v", res.Problems[0])
	}
	done := step("etcd, kube-apiserver, controller manager, Prometheus, load generator")
	s := stage.New(r, ctx, stage.Options{Rate: o.rate, Startup: o.startup, HPASync: 15 * time.Second})
	done()
	done = step("Deployment storefront/web (5 replicas) and its HPA on primetime_replicas")
	s.Deploy(r, ctx, 5, 2, 50)
	done()
	need := int32(math.Ceil(o.rate / 10))
	done = step("primetime serve")
	s.Configure(r, ctx, stage.WebTarget(config.FormatDuration(o.lead), "metric"), "")
	pt := stage.StartPrimetime(r, s.C, "--prometheus-url="+s.Prom.URL, "--interval=5s")
	done()
	done = step(fmt.Sprintf("waiting for primetime to publish the normal need (%d replicas)", need))
	s.Settle(r, ctx, need)
	done()

	start := time.Now().Add(o.until).Truncate(time.Second)
	w := window{lead: o.lead, start: start, end: start.Add(o.duration), cooldown: cooldown}
	windows := o.windows(start, w.cooldown)
	if _, err := s.C.Client.CoreV1().ConfigMaps("storefront").Create(ctx, stage.ConfigMap("storefront", "tv-spots", config.LabelWindows, "spots.yaml", windows), metav1.CreateOptions{}); err != nil {
		r.Fatal(err)
	}
	fmt.Printf("\nmarketing wrote the ConfigMap storefront/tv-spots:\n%s", indent(windows))
	fmt.Printf("the spot starts at %s (in %s); leadTime %s: pre-scaling from %s; pods take %s to start\n\n",
		start.Format(time.TimeOnly), o.until, o.lead, start.Add(-o.lead).Format(time.TimeOnly), o.startup)

	fmt.Printf("%-8s  %-9s  %-8s  %-28s  %-7s  %-7s  %s\n", "time", "traffic", "seen", "window", "floor", "desired", "replicas (ready)")
	stopAt := w.end.Add(w.cooldown + o.after)
	var reached time.Time
	var floor float64
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for now := time.Now(); now.Before(stopAt); now = time.Now() {
		switch {
		case now.After(w.start) && now.Before(w.end) && s.Gen.Rate() != o.rate*o.spike:
			s.Gen.SetRate(o.rate * o.spike) // the spot airs
		case now.After(w.end) && s.Gen.Rate() != o.rate:
			s.Gen.SetRate(o.rate)
		}
		seen, _ := pt.Metric("primetime_target_load", `target="web"`, `kind="observed"`)
		f, hasFloor := pt.Metric("primetime_target_replicas", `target="web"`, `kind="floor"`)
		desired, _ := pt.Metric("primetime_target_replicas", `target="web"`, `kind="desired"`)
		spec, ready := s.Replicas(ctx)
		floorText := "-"
		if hasFloor && f > 0 {
			floorText = fmt.Sprint(f)
			floor = max(floor, f)
		}
		if floor > 0 && float64(ready) >= floor && reached.IsZero() && now.Before(w.start) {
			reached = now
		}
		fmt.Printf("%-8s  %6.0f/s  %6.0f/s  %-28s  %-7s  %-7.0f  %d (%d)\n",
			now.Format(time.TimeOnly), s.Gen.Rate(), seen, w.state(now), floorText, desired, spec, ready)
		select {
		case <-ctx.Done():
			return 130
		case <-tick.C:
		}
	}
	fmt.Println()
	switch {
	case floor == 0:
		fmt.Printf("primetime published no floor for the spot: see its log in %s\n", o.logDir)
		return 1
	case reached.IsZero():
		fmt.Printf("the floor of %.0f replicas was NOT ready before the spot started\n", floor)
		return 1
	}
	fmt.Printf("%.0f replicas were ready at %s, %s before the spot's traffic arrived at %s.\n",
		floor, reached.Format(time.TimeOnly), w.start.Sub(reached).Round(time.Second), w.start.Format(time.TimeOnly))
	return 0
}

// window is the demo's TV spot, for the table's window column.
type window struct {
	lead       time.Duration
	start, end time.Time
	cooldown   time.Duration
}

func (w window) state(now time.Time) string {
	in := w.start.Sub(now).Round(time.Second)
	switch {
	case now.Before(w.start.Add(-w.lead)):
		return fmt.Sprintf("spot in %s", in)
	case now.Before(w.start):
		return fmt.Sprintf("pre-scaling, spot in %s", in)
	case now.Before(w.end):
		return "ON AIR"
	case now.Before(w.end.Add(w.cooldown)):
		return "cooldown"
	default:
		return "stepping down"
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}
