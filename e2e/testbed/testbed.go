package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// T is what the testbed needs of a test: *testing.T and *testing.B are
// one, and so is the demo's runner.
type T interface {
	Helper()
	Cleanup(func())
	TempDir() string
	Logf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
}

// RequireEnv, when set to 1, turns a missing program into a test failure
// instead of a skip. make test and CI set it.
const RequireEnv = "PRIMETIME_REQUIRE_INTEGRATION"

// LookPath finds a program the test needs; without it the test is skipped,
// or fails when RequireEnv is set.
func LookPath(t T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s is not installed (run make deps): %v", name, err)
		}
		t.Skipf("%s is not installed; run make deps, or set %s=1 to make this a failure", name, RequireEnv)
	}
	return p
}

// handedOut holds the ports FreePort returned: scenarios run side by side,
// and a program restarted on its port (Prometheus after an outage) must
// not find it taken by another scenario's.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call,
// never one it returned before in this process.
func FreePort(t T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
}

// Process is a program started by a test, in its own process group.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
	once sync.Once
}

// Buffer collects a program's output; safe for concurrent use, and bounded
// (past 8 MiB it starts again, keeping the tail).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 8<<20 {
		l.b.Reset() // keep the tail, bounded
	}
	return l.b.Write(p)
}

// String returns what was written (the tail, past 8 MiB).
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start runs a program; it is killed (with its children) when the test ends.
func Start(t T, name string, args ...string) *Process {
	t.Helper()
	return StartEnv(t, nil, name, args...)
}

// StartEnv is Start with variables (KEY=value) added to the program's
// environment.
func StartEnv(t T, env []string, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	return StartCmd(t, cmd)
}

// StartCmd starts cmd as Start does (its own process group, killed with
// the test), keeping what cmd.SysProcAttr already asks (a chroot, a user).
func StartCmd(t T, cmd *exec.Cmd) *Process {
	t.Helper()
	name := cmd.Path
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Pdeathsig = true, syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	recordStart(filepath.Base(name), cmd.Process.Pid)
	p := &Process{Name: filepath.Base(name), cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if dir := os.Getenv("PRIMETIME_E2E_LOGS"); dir != "" {
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", p.Name, p.Pid())), []byte(p.out.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.Name, tail(p.out.String(), 4000))
		}
	})
	return p
}

// Kill ends the process group and waits for the process to exit.
func (p *Process) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// Terminate sends SIGTERM, as the kubelet does to a pod being deleted, and
// waits up to grace for the process to exit; false if it did not.
func (p *Process) Terminate(grace time.Duration) bool {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		return false
	}
}

// ExitCode returns the process's exit code once it has exited.
func (p *Process) ExitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process printed.
func (p *Process) Output() string { return p.out.String() }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t T, url string, timeout time.Duration, p *Process) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			t.Fatalf("%s exited while starting:\n%s", p.Name, tail(p.Output(), 4000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within %s", url, timeout)
}

// Eventually polls cond every interval until it returns true or the
// timeout passes, then fails with the last message cond gave.
func Eventually(t T, timeout, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		if ok, msg = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(interval)
	}
}

// Consistently fails t as soon as cond is false, polling every interval
// for duration: what must hold throughout (no second Event, a value kept
// while something else changes).
func Consistently(t T, duration, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(duration)
	for {
		if ok, msg := cond(); !ok {
			t.Fatalf("within %s: %s", duration, msg)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(interval)
	}
}

// Prometheus is a real Prometheus server started by a test.
type Prometheus struct {
	*Process
	URL  string
	bin  string
	args []string
}

// Restart starts the killed server again on the same address with the
// same configuration and data, and waits until it is ready.
func (p *Prometheus) Restart(t T) {
	t.Helper()
	if !p.Exited() {
		t.Fatal("Restart: Prometheus is still running; Kill it first")
	}
	p.Process = Start(t, p.bin, p.args...)
	WaitHTTP(t, p.URL+"/-/ready", 60*time.Second, p.Process)
}

// PrometheusOptions configures StartPrometheus.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped by job "test".
	Targets []string
	// ScrapeInterval defaults to 1s.
	ScrapeInterval time.Duration
	// Backfill is OpenMetrics text loaded into the TSDB before start
	// (with promtool), so that tests get history without waiting for it.
	Backfill string
}

// StartPrometheus starts Prometheus on a free loopback port with a fresh
// data directory and waits until it is ready.
func StartPrometheus(t T, o PrometheusOptions) *Prometheus {
	t.Helper()
	bin := LookPath(t, "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = time.Second
	}
	if o.Backfill != "" {
		promtool := LookPath(t, "promtool")
		in := filepath.Join(dir, "backfill.om")
		if err := os.WriteFile(in, []byte(o.Backfill), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, data).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool backfill: %v\n%s", err, out)
		}
	}
	var targets []string
	for _, tg := range o.Targets {
		targets = append(targets, fmt.Sprintf("%q", tg))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: test
    static_configs:
      - targets: [%s]
`, o.ScrapeInterval, o.ScrapeInterval, strings.Join(targets, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	args := []string{
		"--config.file=" + cfgFile,
		"--storage.tsdb.path=" + data,
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--storage.tsdb.retention.time=30d",
		"--log.level=warn",
	}
	p := Start(t, bin, args...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	WaitHTTP(t, url+"/-/ready", 60*time.Second, p)
	return &Prometheus{Process: p, URL: url, bin: bin, args: args}
}

// Query runs an instant query and returns its single value.
func (p *Prometheus) Query(expr string) (float64, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if len(body.Data.Result) != 1 || len(body.Data.Result[0].Value) != 2 {
		return 0, fmt.Errorf("%q: %d series", expr, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}
