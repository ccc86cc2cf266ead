package testbed

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Suite is a T for what a whole test binary shares (one control plane for
// many scenarios): its temporary directories and cleanups last until
// Close, which TestMain calls after the tests. A fatal error is kept and
// stops the setup; the tests that use the shared part then fail with it.
type Suite struct {
	// Dir is where TempDir makes its directories (the system's default
	// when empty).
	Dir string
	// Log receives Logf (standard error when nil).
	Log io.Writer

	mu       sync.Mutex
	cleanups []func()
	dirs     []string
	failed   bool
}

// suiteFatal is the panic a Suite's Fatal raises to stop the setup.
type suiteFatal struct{ msg string }

// Helper implements T.
func (s *Suite) Helper() {}

// Cleanup implements T: fn runs at Close, last added first.
func (s *Suite) Cleanup(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, fn)
}

// TempDir implements T.
func (s *Suite) TempDir() string {
	dir, err := os.MkdirTemp(s.Dir, "primetime-suite")
	if err != nil {
		s.Fatal(err)
	}
	s.mu.Lock()
	s.dirs = append(s.dirs, dir)
	s.mu.Unlock()
	return dir
}

// Logf implements T.
func (s *Suite) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "suite: "+format+"\n", args...)
}

// Fatal implements T.
func (s *Suite) Fatal(args ...any) { s.fail(fmt.Sprint(args...)) }

// Fatalf implements T.
func (s *Suite) Fatalf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }

// Skipf implements T: a shared part that cannot start fails its users.
func (s *Suite) Skipf(format string, args ...any) { s.fail(fmt.Sprintf(format, args...)) }

// Failed implements T.
func (s *Suite) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *Suite) fail(msg string) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	panic(suiteFatal{msg})
}

// Setup runs fn, which builds a shared part with s as its T, and returns
// the error that stopped it, if any.
func (s *Suite) Setup(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(suiteFatal)
			if !ok {
				panic(p)
			}
			err = fmt.Errorf("shared setup: %s", f.msg)
		}
	}()
	fn()
	return nil
}

// Close runs the cleanups and removes the temporary directories. A second
// call does nothing.
func (s *Suite) Close() {
	s.mu.Lock()
	cleanups, dirs := s.cleanups, s.dirs
	s.cleanups, s.dirs = nil, nil
	s.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}
