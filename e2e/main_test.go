package e2e

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/loadgen"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// TestMain runs the suite, then checks that it left nothing behind: no
// etcd, kube-apiserver, kube-controller-manager, Prometheus or primetime
// process (nor any child of theirs), and no load generator server.
func TestMain(m *testing.M) {
	code := m.Run()
	shared.suite.Close()
	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = testbed.Leftovers()
		if n := loadgen.Serving(); n > 0 {
			left = append(left, fmt.Sprintf("%d load generator servers", n))
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the e2e suite left behind: %v\n", left)
		code = 1
	} else {
		fmt.Println("e2e: no process nor load generator of the suite left")
	}
	os.Exit(code)
}
