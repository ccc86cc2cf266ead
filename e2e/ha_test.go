package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler/configwatch"
	"github.com/primetime-dev/primetime/scaler/ha"
)

// haTarget is a metric-mode target with no load source that answers
// (windows in replicas need none): its value is a window's floor.
const haTarget = `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'up'}
    capacityPerReplica: 10
    maxReplicas: 50
`

// haWindow holds a floor of 17 replicas for two hours.
func haWindow(ns, duration string) string {
	return fmt.Sprintf(`windows:
  - name: sale
    start: %q
    duration: %s
    replicas: 17
    targets: [%s/web]
`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), duration, ns)
}

// leaderOf returns the replica that leads, and the other.
func leaderOf(replicas []*stage.Primetime) (leader, other *stage.Primetime) {
	for i, p := range replicas {
		if v, ok := p.Metric("primetime_leader"); ok && v == 1 {
			return p, replicas[1-i]
		}
	}
	return nil, nil
}

func waitLeader(t *testing.T, replicas []*stage.Primetime) (leader, other *stage.Primetime) {
	t.Helper()
	testbed.Eventually(t, time.Minute, 100*time.Millisecond, func() (bool, string) {
		leader, other = leaderOf(replicas)
		return leader != nil, "no replica leads"
	})
	return leader, other
}

// TestGracefulHandover: SIGTERM to the leader of two replicas. It stops
// acting, releases the Lease and exits within the grace period; the other
// leads within 3 s, and the API keeps answering the floor.
func TestGracefulHandover(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "handover")
	s.Configure(t, ctx, haTarget, haWindow(s.NS, "2h"))
	replicas := s.StartPrimetimeReplicas(t, 2, "--prometheus-url=http://127.0.0.1:1", "--interval=5s")
	leader, survivor := waitLeader(t, replicas)
	testbed.Eventually(t, time.Minute, time.Second, func() (bool, string) {
		v, err := s.Value(ctx, "primetime_replicas")
		return err == nil && v == "17", fmt.Sprintf("primetime_replicas %q %v", v, err)
	})
	signalled := time.Now()
	if !leader.Terminate(30 * time.Second) {
		t.Fatal("the leader did not exit within the 30 s grace period after SIGTERM")
	}
	exited := time.Since(signalled)
	if code := leader.ExitCode(); code != 0 {
		t.Errorf("the leader exited with code %d after SIGTERM, want 0", code)
	}
	var took time.Duration
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, func() (bool, string) {
		v, ok := survivor.Metric("primetime_leader")
		took = time.Since(signalled)
		return ok && v == 1, "the survivor does not lead"
	})
	t.Logf("scenario 17a: SIGTERM to the leader: it exited after %s, the survivor led %s after the signal", exited.Round(10*time.Millisecond), took.Round(10*time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("the survivor led %s after SIGTERM to the leader, want within 3 s", took.Round(10*time.Millisecond))
	}
	// Through the aggregator: a request it had open to the replica that
	// exited may fail once ("unknown"); the survivor answers the next.
	testbed.Eventually(t, 5*time.Second, 100*time.Millisecond, func() (bool, string) {
		v, err := s.Value(ctx, "primetime_replicas")
		return err == nil && v == "17", fmt.Sprintf("after the handover: primetime_replicas %q %v", v, err)
	})
}

// TestHAConfiguration, with two replicas: one bad edit gives exactly one
// InvalidEntry Event; a restart of both with the entry broken keeps its
// last good version in force; a target moved from one ConfigMap to another
// (the new one created, then the old one deleted) is never gone.
func TestHAConfiguration(t *testing.T) {
	scenario(t)
	ctx := context.Background()
	s := stage.Bare(t, sharedCluster(t), "ha-config")
	s.Configure(t, ctx, haTarget, haWindow(s.NS, "2h"))
	start := func() []*stage.Primetime {
		return s.StartPrimetimeReplicas(t, 2, "--prometheus-url=http://127.0.0.1:1", "--interval=2s")
	}
	replicas := start()
	waitLeader(t, replicas)
	serves17 := func(within time.Duration, what string) {
		t.Helper()
		testbed.Eventually(t, within, 500*time.Millisecond, func() (bool, string) {
			v, err := s.Value(ctx, "primetime_replicas")
			return err == nil && v == "17", fmt.Sprintf("%s: primetime_replicas %q %v", what, v, err)
		})
	}
	keeps17 := func(d time.Duration, what string) {
		t.Helper()
		testbed.Consistently(t, d, 250*time.Millisecond, func() (bool, string) {
			v, err := s.Value(ctx, "primetime_replicas")
			return err == nil && v == "17", fmt.Sprintf("%s: primetime_replicas %q %v", what, v, err)
		})
	}
	serves17(time.Minute, "before the edit")

	// A bad edit of the window: its duration.
	cms := s.C.Client.CoreV1().ConfigMaps(s.NS)
	cm, err := cms.Get(ctx, "tv-spots", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["spots.yaml"] = strings.Replace(cm.Data["spots.yaml"], "duration: 2h", "duration: 2 hours", 1)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	events := func() []string {
		list, _ := s.C.Client.CoreV1().Events(s.NS).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=tv-spots,reason=" + configwatch.ReasonInvalidEntry})
		var out []string
		for _, e := range list.Items {
			out = append(out, fmt.Sprintf("%s (x%d)", e.Message, e.Count))
		}
		return out
	}
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) { return len(events()) > 0, "no InvalidEntry Event" })
	// A second replica's Event would be there within a few of its cycles.
	testbed.Consistently(t, 10*time.Second, time.Second, func() (bool, string) {
		ev := events()
		return len(ev) == 1 && strings.Contains(ev[0], `window "sale": duration:`) && strings.HasSuffix(ev[0], "(x1)"),
			fmt.Sprintf("InvalidEntry Events with two replicas: %q, want exactly one", ev)
	})
	serves17(10*time.Second, "after the bad edit (its last good version stays)")

	// Both replicas restarted: the last good version comes back from the
	// handed-over state, though the ConfigMap holds the broken one.
	testbed.Eventually(t, 30*time.Second, time.Second, func() (bool, string) {
		st, err := ha.Load(ctx, s.C.Client, s.NS)
		if err != nil || st == nil {
			return false, fmt.Sprintf("handed-over state: %v", err)
		}
		for _, e := range st.Config.LastGood {
			if e.Name == "sale" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("the handed-over state keeps %d last good entries, not the window sale", len(st.Config.LastGood))
	})
	for _, p := range replicas {
		p.Kill()
	}
	replicas = start()
	waitLeader(t, replicas)
	serves17(time.Minute, "after a restart with the entry broken")
	// Not only the handed-over decisions: the new leader's own cycles
	// keep the window's last good version in force.
	keeps17(20*time.Second, "the new leader's cycles after a restart with the entry broken")
	t.Logf("scenario 17b: one InvalidEntry Event with two replicas; the broken window's last good version in force after a restart")

	// Move the target: create it in a new ConfigMap, then delete the old.
	if _, err := cms.Create(ctx, stage.ConfigMap(s.NS, "moved-targets", config.LabelTargets, "targets.yaml", haTarget), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	keeps17(5*time.Second, "with the target in two ConfigMaps")
	if err := cms.Delete(ctx, "primetime-targets", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	keeps17(15*time.Second, "after the old ConfigMap was deleted")
	t.Logf("scenario 17c: the target moved to another ConfigMap and was served throughout")
}
