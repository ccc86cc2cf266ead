package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/ha"
)

// TestSwitchingBetweenOneAndTwoReplicas: what an SRE does to a release
// over its life. Two leader-elected replicas hand over twice; then one
// replica alone with leader election off (a chart with replicas: 1, or
// --leader-elect=false) starts after them, leads at once with a term after
// the state's and pre-scales a window written then; then, with two
// replicas again, the Lease is deleted by hand: a replica leads within the
// lease duration and none is fenced into a crash loop.
func TestSwitchingBetweenOneAndTwoReplicas(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "terms")
	s.Configure(t, ctx, haTarget, haWindow(s.NS, "2h"))
	flags := []string{"--prometheus-url=http://127.0.0.1:1", "--interval=2s"}
	serves := func(want string, within time.Duration, what string) {
		t.Helper()
		testbed.Eventually(t, within, 250*time.Millisecond, func() (bool, string) {
			v, err := s.Value(ctx, "primetime_replicas")
			return err == nil && v == want, fmt.Sprintf("%s: primetime_replicas %q %v, want %s", what, v, err, want)
		})
	}
	stateEpoch := func() int64 {
		cm, err := s.C.Client.CoreV1().ConfigMaps(s.NS).Get(ctx, ha.StateName, metav1.GetOptions{})
		if err != nil {
			return -1
		}
		e, _ := strconv.ParseInt(cm.Annotations["primetime.dev/epoch"], 10, 64)
		return e
	}
	handOver := func(from *stage.Primetime, to *stage.Primetime, n int) {
		t.Helper()
		signalled := time.Now()
		if !from.Terminate(30 * time.Second) {
			t.Fatalf("handover %d: the leader did not exit within 30 s of SIGTERM", n)
		}
		testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
			v, ok := to.Metric("primetime_leader")
			return ok && v == 1, fmt.Sprintf("handover %d: the other replica does not lead", n)
		})
		t.Logf("handover %d: led %s after SIGTERM, state epoch %d", n, time.Since(signalled).Round(10*time.Millisecond), stateEpoch())
	}

	// Two replicas, two handovers: the second through a third replica
	// that joins the election as the survivor's follower.
	pair := s.StartPrimetimeReplicas(t, 2, flags...)
	first, second := waitLeader(t, pair)
	serves("17", time.Minute, "two replicas")
	handOver(first, second, 1)
	third := s.StartPrimetime(t, append([]string{"--leader-elect", "--identity=primetime-third"}, flags...)...)
	handOver(second, third, 2)
	serves("17", 10*time.Second, "after two handovers")
	// The new leader writes the state at its first cycle; the followers'
	// value may be served before it.
	handedOver := int64(-1)
	testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, func() (bool, string) {
		handedOver = stateEpoch()
		return handedOver >= 2, fmt.Sprintf("the state's epoch after two handovers is %d, want 2 or more", handedOver)
	})
	if !third.Terminate(30 * time.Second) {
		t.Fatal("the third replica did not exit within 30 s of SIGTERM")
	}

	// One replica, leader election off: it leads (it used to exit "fenced:
	// the state is of epoch 2, later than this leader's 0" on every start).
	alone := s.StartPrimetime(t, flags...)
	began := time.Now()
	serves("17", 30*time.Second, "one replica without leader election")
	start := time.Now().Add(3 * time.Minute).UTC().Truncate(time.Second)
	cms := s.C.Client.CoreV1().ConfigMaps(s.NS)
	if _, err := cms.Create(ctx, stage.ConfigMap(s.NS, "launch", config.LabelWindows, "launch.yaml", fmt.Sprintf(`windows:
  - name: launch
    start: %q
    duration: 10m
    replicas: 23
    targets: [%s/web]
`, start.Format(time.RFC3339), s.NS)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	serves("23", 30*time.Second, "the launch window, 3 minutes ahead")
	t.Logf("one replica without leader election: led and served 17 within %s, pre-scaled the launch %s before it; state epoch %d (handed over at %d)",
		time.Since(began).Round(100*time.Millisecond), time.Until(start).Round(time.Second), stateEpoch(), handedOver)
	if alone.Exited() {
		t.Fatalf("the single replica exited:\n%s", alone.Output())
	}
	if e := stateEpoch(); e <= handedOver {
		t.Errorf("the single replica wrote the state at epoch %d, want after %d", e, handedOver)
	}
	if !alone.Terminate(30 * time.Second) {
		t.Fatal("the single replica did not exit within 30 s of SIGTERM")
	}

	// Two replicas again, then the Lease deleted by hand.
	again := s.StartPrimetimeReplicas(t, 2, flags...)
	waitLeader(t, again)
	serves("23", 30*time.Second, "two replicas again")
	if err := s.C.Client.CoordinationV1().Leases(s.NS).Delete(ctx, ha.LeaseName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	var leader *stage.Primetime
	testbed.Eventually(t, 15*time.Second, 100*time.Millisecond, func() (bool, string) {
		_, err := s.C.Client.CoordinationV1().Leases(s.NS).Get(ctx, ha.LeaseName, metav1.GetOptions{})
		leader, _ = leaderOf(again)
		return err == nil && leader != nil && !leader.Exited(), fmt.Sprintf("no Lease (%v) or no replica leads", err)
	})
	t.Logf("Lease deleted by hand: a replica leads %s later", time.Since(deleted).Round(100*time.Millisecond))
	// No crash loop: the replica that leads keeps leading and serving.
	testbed.Consistently(t, 20*time.Second, time.Second, func() (bool, string) {
		v, ok := leader.Metric("primetime_leader")
		return !leader.Exited() && ok && v == 1, fmt.Sprintf("the leader after the Lease's deletion stopped (exited %v):\n%s", leader.Exited(), tailOf(leader.Output()))
	})
	serves("23", 10*time.Second, "after the Lease's deletion")
}

func tailOf(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
