package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestDemo runs make demo's program, with a shorter spot, as a person
// would: it must show the floor ready before the spot and exit 0; and
// Ctrl-C during the table must stop it and leave no process behind.
func TestDemo(t *testing.T) {
	scenario(t)             // the demo starts its own control plane
	testbed.KubeBinaries(t) // build (or skip) before timing anything
	bin := filepath.Join(t.TempDir(), "primetime-demo")
	if out, err := exec.Command("go", "build", "-o", bin, "./demo").CombinedOutput(); err != nil {
		t.Fatalf("go build ./e2e/demo: %v\n%s", err, out)
	}
	run := func(t *testing.T, interruptWhen string, args ...string) (string, int) {
		t.Helper()
		tmp := t.TempDir()
		cmd := exec.Command(bin, append([]string{"--logs=" + filepath.Join(tmp, "logs")}, args...)...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		out := &testbed.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if interruptWhen != "" {
			testbed.Eventually(t, 3*time.Minute, 200*time.Millisecond, func() (bool, string) {
				return strings.Contains(out.String(), interruptWhen), "waiting for " + interruptWhen
			})
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			t.Fatalf("the demo did not end:\n%s", out.String())
		}
		// Everything it started ran with files under its TMPDIR.
		if left := processesUsing(tmp); len(left) > 0 {
			t.Errorf("the demo left processes behind: %v", left)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}

	t.Run("a spot", func(t *testing.T) {
		out, code := run(t, "", "--starts-in=80s", "--lead=60s", "--duration=1m", "--after=5s")
		t.Logf("demo output:\n%s", out)
		if code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if !regexp.MustCompile(`\d+ replicas were ready at \S+, \d+s before the spot's traffic arrived`).MatchString(out) {
			t.Errorf("no line saying the replicas were ready before the spot")
		}
		for _, col := range []string{"traffic", "seen", "window", "floor", "desired", "replicas (ready)", "ON AIR", "pre-scaling"} {
			if !strings.Contains(out, col) {
				t.Errorf("the table lacks %q", col)
			}
		}
	})
	t.Run("Ctrl-C", func(t *testing.T) {
		out, code := run(t, "replicas (ready)")
		if code != 130 {
			t.Errorf("exit code %d after Ctrl-C, want 130:\n%s", code, out)
		}
	})
}

// processesUsing lists the running processes whose command line mentions
// dir.
func processesUsing(dir string) []string {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if cl := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cl, dir) {
			out = append(out, filepath.Base(filepath.Dir(f))+": "+cl)
		}
	}
	return out
}
