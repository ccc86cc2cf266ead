package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
)

// The control plane most scenarios share: one etcd, kube-apiserver and
// controller manager (HPA sync 5 s) for the whole suite, with the metrics
// router as its external metrics API. Each scenario works in namespaces
// of its own, runs its own primetime, Prometheus and load generator, and
// runs in parallel with the others (t.Parallel). Scenarios that need the
// control plane to themselves (another HPA sync period, the chart's
// cluster-wide objects, the demo's own cluster) start their own.
var shared struct {
	suite testbed.Suite
	once  sync.Once
	c     *testbed.Cluster
	err   error
}

// sharedCluster returns the shared control plane, started at first use.
func sharedCluster(t *testing.T) *testbed.Cluster {
	t.Helper()
	// Missing programs skip (or fail, under make test) the test itself.
	testbed.LookPath(t, "etcd")
	testbed.KubeBinaries(t)
	shared.once.Do(func() {
		began := time.Now()
		shared.err = shared.suite.Setup(func() {
			c := testbed.StartCluster(&shared.suite, testbed.ClusterOptions{ControllerManager: true, HPASyncPeriod: 5 * time.Second})
			testbed.StartMetricsRouter(&shared.suite, c)
			shared.c = c
		})
		t.Logf("shared control plane started in %s", time.Since(began).Round(100*time.Millisecond))
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

// scenario marks a test as a scenario that runs in parallel with the
// others and logs its wall time when it ends. primetime is built first
// (once for all), so that a scenario's clock starts with what it times.
// apart keeps a scenario whose figure is a reaction time (the unplanned
// spike's 35 s) from running beside the one that loads both cores for
// minutes (10,000 targets): beside it, the spike's reaction measured 39 s
// instead of 15 s.
var apart sync.Mutex

// runApart holds apart for the rest of the test.
func runApart(t *testing.T) {
	t.Helper()
	apart.Lock()
	t.Cleanup(apart.Unlock)
}

func scenario(t *testing.T) {
	t.Helper()
	t.Parallel()
	stage.Binary(t)
	began := time.Now()
	t.Cleanup(func() { t.Logf("wall time of %s: %s", t.Name(), time.Since(began).Round(time.Second)) })
}
