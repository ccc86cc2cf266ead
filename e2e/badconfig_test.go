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
)

// TestBadConfig is scenario d: a windows ConfigMap with one bad entry
// among good ones. The author sees an InvalidEntry Event naming the entry
// and the field; the good entries act.
func TestBadConfig(t *testing.T) {
	scenario(t)
	const ns = "badconfig"
	ctx := context.Background()
	c := sharedCluster(t)
	c.Namespace(t, ns, nil)
	cms := c.Client.CoreV1().ConfigMaps(ns)
	targets := `targets:
  - name: web
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(http_requests_total[1m]))'}
    capacityPerReplica: 10
    maxReplicas: 50
`
	now := time.Now().UTC()
	windows := fmt.Sprintf(`windows:
  - name: black-friday
    start: %q
    duration: 1h
    replicas: 17
    targets: [%s/web]
  - name: tf1-spot
    start: %q
    duration: 15 minutes
    expect: 5x
    targets: [%s/web]
  - name: newsletter
    cron: "0 10 * * SUN"
    duration: 1h
    expect: 2x
    targets: [%s/*]
`, now.Add(-time.Minute).Format(time.RFC3339), ns, now.Add(time.Hour).Format(time.RFC3339), ns, ns)
	if _, err := cms.Create(ctx, stage.ConfigMap(ns, "primetime-targets", config.LabelTargets, "targets.yaml", targets), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, stage.ConfigMap(ns, "spots", config.LabelWindows, "spots.yaml", windows), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No Prometheus at all: the load is unknown, yet the good window's
	// floor of 17 replicas is published.
	p := stage.StartPrimetimeIn(t, c, ns, "--prometheus-url=http://127.0.0.1:1", "--interval=2s")

	testbed.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		events, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=spots,reason=InvalidEntry"})
		if err != nil || len(events.Items) == 0 {
			return false, fmt.Sprintf("no InvalidEntry Event on the ConfigMap yet (%v)", err)
		}
		msg := events.Items[0].Message
		if len(events.Items) != 1 || !strings.Contains(msg, `window "tf1-spot": duration:`) {
			t.Fatalf("events: want one naming tf1-spot and its duration, got %d: %s", len(events.Items), msg)
		}
		return true, ""
	})
	testbed.Eventually(t, 60*time.Second, time.Second, func() (bool, string) {
		v, err := stage.ExternalValue(ctx, c, ns, "primetime_replicas", "web")
		return err == nil && v == "17", fmt.Sprintf("primetime_replicas %q %v", v, err)
	})
	if v, ok := p.Metric("primetime_config_entries", `kind="windows"`, `state="invalid"`); !ok || v != 1 {
		t.Errorf("primetime_config_entries{kind=windows,state=invalid} = %v %v, want 1", v, ok)
	}
	if v, ok := p.Metric("primetime_config_entries", `kind="windows"`, `state="valid"`); !ok || v != 2 {
		t.Errorf("valid windows = %v %v, want 2", v, ok)
	}
}
