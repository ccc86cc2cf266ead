package configwatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

const goodWindows = `timezone: Europe/Paris
windows:
  - name: tf1-spot
    start: "2026-11-25 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
  - name: newsletter
    cron: "0 10 * * SUN"
    duration: 1h
    expect: 2x
    targets: [storefront/*]
`

func windowsCM(rv, text string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "spots", Namespace: "marketing", ResourceVersion: rv, Labels: map[string]string{config.LabelWindows: "true"}},
		Data:       map[string]string{"november.yaml": text},
	}
}

func windowNames(s *Store) map[string]ground.Window {
	out := map[string]ground.Window{}
	for _, w := range s.Snapshot().Windows {
		out[w.Name] = w
	}
	return out
}

func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestBadEntryIsReportedAndTheOthersApply(t *testing.T) {
	rec := record.NewFakeRecorder(100)
	s := NewStore(rec, nil)
	s.Apply(windowsCM("1", goodWindows))
	if got := windowNames(s); len(got) != 2 {
		t.Fatalf("windows in force: %v", got)
	}
	if ev := drain(rec); len(ev) != 0 {
		t.Fatalf("events for a good ConfigMap: %v", ev)
	}

	// The spot's duration breaks and a third, good window is added.
	broken := strings.Replace(goodWindows, "duration: 15m", "duration: 15 minutes", 1) +
		"  - {name: sale, start: \"2026-11-27 08:00\", duration: 16h, expect: 3x, targets: [storefront/*]}\n"
	s.Apply(windowsCM("2", broken))
	got := windowNames(s)
	if len(got) != 3 || got["tf1-spot"].Duration != 15*time.Minute {
		t.Fatalf("want sale added and tf1-spot kept at its last good version, got %v", got)
	}
	ev := drain(rec)
	want := `Warning InvalidEntry window "tf1-spot": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d ([november.yaml] line 5); its last good version stays in force`
	if len(ev) != 1 || ev[0] != want {
		t.Fatalf("events:\n%v\nwant:\n%s", ev, want)
	}
	snap := s.Snapshot()
	if snap.ValidWindows != 3 || snap.InvalidWindows != 1 {
		t.Errorf("counts: %d valid, %d invalid", snap.ValidWindows, snap.InvalidWindows)
	}

	// A resync of the same version changes nothing and says nothing again.
	v := s.Snapshot().Version
	s.Apply(windowsCM("2", broken))
	if s.Snapshot().Version != v || len(drain(rec)) != 0 {
		t.Errorf("a resync re-applied the ConfigMap")
	}

	// A new entry that is bad from the start is simply rejected.
	s.Apply(windowsCM("3", goodWindows+"  - {name: oops, start: \"2026-11-27 08:00\", duration: 1h, replicas: -2, targets: [a/b]}\n"))
	got = windowNames(s)
	if _, ok := got["oops"]; ok || len(got) != 2 {
		t.Errorf("windows: %v", got)
	}
	if ev := drain(rec); len(ev) != 1 || !strings.Contains(ev[0], `window "oops": replicas: must be between 0`) || strings.Contains(ev[0], "last good") {
		t.Errorf("events: %v", ev)
	}
}

func TestYAMLThatDoesNotParseKeepsTheLastGoodEntries(t *testing.T) {
	rec := record.NewFakeRecorder(100)
	s := NewStore(rec, nil)
	s.Apply(windowsCM("1", goodWindows))
	s.Apply(windowsCM("2", goodWindows+"  - name: [unclosed\n"))
	if got := windowNames(s); len(got) != 2 {
		t.Fatalf("windows in force after a broken edit: %v", got)
	}
	ev := drain(rec)
	if len(ev) != 1 || !strings.Contains(ev[0], "does not parse") || !strings.Contains(ev[0], "stay in force") {
		t.Errorf("events: %v", ev)
	}
	s.Apply(windowsCM("3", strings.Repeat("\x00garbage{{", 100000)))
	if got := windowNames(s); len(got) != 2 {
		t.Fatalf("windows in force after 1 MB of garbage: %v", got)
	}
}

func TestDuplicateTargetAcrossConfigMaps(t *testing.T) {
	rec := record.NewFakeRecorder(100)
	s := NewStore(rec, nil)
	target := "targets:\n  - {name: web, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: 3}\n"
	for _, name := range []string{"a", "b"} {
		s.Apply(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", ResourceVersion: "1"}, Data: map[string]string{"t.yaml": target}})
	}
	if n := len(s.Snapshot().Targets); n != 1 {
		t.Fatalf("%d targets", n)
	}
	// Both ConfigMaps hear of it, once.
	want := []string{
		`Warning InvalidEntry target "web": name: target shop/web is already defined in ConfigMap shop/a ([t.yaml] line 2)`,
		`Warning InvalidEntry target shop/web ([t.yaml] line 2) stays in force; shop/web (shop/b[t.yaml]:2) was rejected: target shop/web is already defined in ConfigMap shop/a`,
	}
	s.Snapshot()
	if ev := drain(rec); strings.Join(ev, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
}

// A target moved from one ConfigMap to another by creating the new one,
// then deleting the old one, is never gone; the older ConfigMap owns it
// meanwhile, whatever order the informer reports them in.
func TestTargetMovedBetweenConfigMaps(t *testing.T) {
	target := "targets:\n  - {name: web, scaleTargetRef: {kind: Deployment, name: web}, load: {prometheus: up}, capacityPerReplica: 5, maxReplicas: %d}\n"
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "z-old", Namespace: "shop", ResourceVersion: "1", CreationTimestamp: metav1.NewTime(time.Unix(100, 0))},
		Data: map[string]string{"t.yaml": fmt.Sprintf(target, 3)}}
	moved := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a-new", Namespace: "shop", ResourceVersion: "2", CreationTimestamp: metav1.NewTime(time.Unix(200, 0))},
		Data: map[string]string{"t.yaml": fmt.Sprintf(target, 7)}}
	for _, order := range [][]*corev1.ConfigMap{{old, moved}, {moved, old}} {
		s := NewStore(nil, nil)
		for _, cm := range order {
			s.Apply(cm)
		}
		if ts := s.Snapshot().Targets; len(ts) != 1 || ts[0].MaxReplicas != 3 {
			t.Fatalf("both defined (applied %s first): %+v; want the older ConfigMap's", order[0].Name, ts)
		}
		s.Delete("shop", "z-old")
		if ts := s.Snapshot().Targets; len(ts) != 1 || ts[0].MaxReplicas != 7 {
			t.Fatalf("the old one deleted: %+v; want the new one's", ts)
		}
	}
}

func TestWatchFollowsConfigMaps(t *testing.T) {
	client := fake.NewClientset()
	// The fake's informers report synced before their watch is open: wait
	// for both watches, or the first create may be missed.
	var watching sync.WaitGroup
	watching.Add(2)
	client.PrependWatchReactor("configmaps", func(action clienttesting.Action) (bool, watch.Interface, error) {
		w, err := client.Tracker().Watch(action.GetResource(), action.GetNamespace())
		if err != nil {
			return false, nil, err
		}
		watching.Done()
		return true, w, nil
	})
	rec := record.NewFakeRecorder(100)
	s := NewStore(rec, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	synced := Watch(ctx, client, nil, s)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("informers did not sync")
	}
	watching.Wait()
	cms := client.CoreV1().ConfigMaps("marketing")
	cm := windowsCM("", goodWindows)
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.Snapshot().Windows) == 2 })

	// An unlabelled ConfigMap is not primetime's.
	other := windowsCM("", goodWindows)
	other.Name, other.Labels = "unrelated", nil
	_, _ = cms.Create(ctx, other, metav1.CreateOptions{})

	// Deleting the ConfigMap removes its windows.
	if err := cms.Delete(ctx, "spots", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.Snapshot().Windows) == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Scenario 9 of docs/reliability.md: each kind of bad edit, made together
// with a good new window. Only the bad entry is rejected, with one
// InvalidEntry Event naming it and its field; the good new window applies;
// every other entry keeps its last good version. A ConfigMap that does not
// parse keeps all its last good entries and says so.
func TestBadEditsRejectOnlyTheBadEntry(t *testing.T) {
	const sale = "  - {name: sale, start: \"2026-11-27 08:00\", duration: 16h, expect: 3x, targets: [storefront/*]}\n"
	cases := []struct {
		name   string
		edit   func(string) string
		event  []string // what the one Event says
		parses bool
	}{
		{"bad time zone", func(s string) string {
			return strings.Replace(s, "  - name: tf1-spot\n", "  - name: tf1-spot\n    timezone: Mars/Olympus\n", 1)
		}, []string{`window "tf1-spot": timezone:`, "Mars/Olympus"}, true},
		{"bad time", func(s string) string { return strings.Replace(s, "2026-11-25 20:45", "2026-11-31 20:45", 1) },
			[]string{`window "tf1-spot": start:`, "2026-11-31 20:45"}, true},
		{"negative replicas", func(s string) string { return strings.Replace(s, "expect: 2x", "replicas: -3", 1) },
			[]string{`window "newsletter": replicas: must be between 0`}, true},
		{"not a target", func(s string) string {
			return strings.Replace(s, "targets: [storefront/*]", "targets: [storefront web]", 1)
		},
			[]string{`window "newsletter": targets:`, "must be namespace/name"}, true},
		{"duplicate names", func(s string) string {
			return s + "  - {name: newsletter, cron: \"0 9 * * MON\", duration: 1h, expect: 2x, targets: [storefront/*]}\n"
		}, []string{`window "newsletter": name:`, "already defined on line"}, true},
		{"YAML that does not parse", func(s string) string { return s + "  - name: [unclosed\n" },
			[]string{"does not parse", "stay in force"}, false},
		{"1 MB of garbage", func(string) string { return strings.Repeat("\x00garbage{{", 100000) },
			[]string{"does not parse", "stay in force"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(100)
			s := NewStore(rec, nil)
			s.Apply(windowsCM("1", goodWindows))
			s.Apply(windowsCM("2", c.edit(goodWindows+sale)))
			got := windowNames(s)
			if got["tf1-spot"].Duration != 15*time.Minute || got["tf1-spot"].Location.String() != "Europe/Paris" ||
				got["newsletter"].Demand.Value != 2 || got["newsletter"].Cron == nil {
				t.Errorf("windows in force: %+v; want tf1-spot and newsletter at their last good versions", got)
			}
			if _, ok := got["sale"]; ok != c.parses {
				t.Errorf("the good new window applies: %v, want %v", ok, c.parses)
			}
			ev := drain(rec)
			if len(ev) != 1 || !strings.Contains(ev[0], "InvalidEntry") {
				t.Fatalf("events: %q, want one InvalidEntry", ev)
			}
			for _, want := range c.event {
				if !strings.Contains(ev[0], want) {
					t.Errorf("event %q does not say %q", ev[0], want)
				}
			}
		})
	}
}

// With two replicas, one bad edit gives one InvalidEntry Event: the
// leader's. A new leader does not record it again, and records the next.
func TestInvalidEntryOncePerEditWhoeverLeads(t *testing.T) {
	rec := record.NewFakeRecorder(100)
	leader, follower := NewStore(rec, nil), NewStore(rec, nil)
	follower.StopReporting()
	bad := strings.Replace(goodWindows, "duration: 15m", "duration: 15 minutes", 1)
	for _, s := range []*Store{leader, follower} {
		s.Apply(windowsCM("2", bad))
	}
	want := `Warning InvalidEntry window "tf1-spot": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d ([november.yaml] line 5)`
	if ev := drain(rec); len(ev) != 1 || ev[0] != want {
		t.Fatalf("events %q, want one: %q", ev, want)
	}
	// The leader dies; the follower takes over with its memory.
	follower.Restore(leader.Memory())
	follower.StartReporting()
	if ev := drain(rec); len(ev) != 0 {
		t.Errorf("the new leader recorded %q again", ev)
	}
	follower.Apply(windowsCM("3", strings.Replace(bad, "expect: 5x", "expect: 5", 1)))
	if ev := drain(rec); len(ev) != 1 {
		t.Errorf("the next bad edit: events %q, want one", ev)
	}
}

// A rejected entry's last good version is handed over with the state:
// after a restart the spot is still in force though its ConfigMap now
// holds a broken version of it.
func TestLastGoodSurvivesARestart(t *testing.T) {
	bad := strings.Replace(goodWindows, "duration: 15m", "duration: 15 minutes", 1)
	before := NewStore(nil, nil)
	before.Apply(windowsCM("1", goodWindows))
	before.Apply(windowsCM("2", bad))
	mem := before.Memory()
	if len(mem.LastGood) != 1 || mem.LastGood[0].Name != "tf1-spot" || mem.LastGood[0].ConfigMap != "marketing/spots" {
		t.Fatalf("memory %+v, want the last good tf1-spot", mem.LastGood)
	}
	after := NewStore(nil, nil) // a new pod: it sees only the broken version
	after.Apply(windowsCM("2", bad))
	if _, ok := windowNames(after)["tf1-spot"]; ok {
		t.Fatal("a fresh store knows a last good version it never saw")
	}
	after.Restore(mem)
	w, ok := windowNames(after)["tf1-spot"]
	if !ok || w.Duration != 15*time.Minute {
		t.Fatalf("after the restore: %+v (%v), want the last good 15m spot", w, ok)
	}
	// Fixed for real: the saved version no longer matters.
	after.Apply(windowsCM("3", strings.Replace(goodWindows, "duration: 15m", "duration: 20m", 1)))
	if w := windowNames(after)["tf1-spot"]; w.Duration != 20*time.Minute {
		t.Errorf("after the fix: %s", w.Duration)
	}
	if mem := after.Memory(); len(mem.LastGood) != 0 {
		t.Errorf("memory after the fix: %+v", mem.LastGood)
	}
}

func TestMisspeltFileTimezoneIsOneEventAndKeepsTheLastGoodWindows(t *testing.T) {
	rec := record.NewFakeRecorder(100)
	s := NewStore(rec, nil)
	s.Apply(windowsCM("1", goodWindows))
	s.Apply(windowsCM("2", strings.Replace(goodWindows, "Europe/Paris", "Europe/Pariss", 1)))
	got := windowNames(s)
	if len(got) != 2 || got["tf1-spot"].Location.String() != "Europe/Paris" {
		t.Fatalf("windows in force after a misspelt timezone: %v", got)
	}
	ev := drain(rec)
	want := `Warning InvalidEntry timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC; the 2 windows without a timezone of their own are rejected until this is fixed ([november.yaml] line 1); the last good entries of this key stay in force`
	if len(ev) != 1 || ev[0] != want {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(ev, "\n"), want)
	}
}

func TestExceptReachesTheDaemon(t *testing.T) {
	s := NewStore(record.NewFakeRecorder(100), nil)
	s.Apply(windowsCM("1", strings.Replace(goodWindows, `cron: "0 10 * * SUN"`, "cron: \"0 10 * * SUN\"\n    except: [\"2026-12-27\", \"2026-12-31..2027-01-03\"]", 1)))
	w := windowNames(s)["newsletter"]
	if len(w.Except) != 2 || w.Except[0].String() != "2026-12-27" || w.Except[1].String() != "2026-12-31..2027-01-03" {
		t.Fatalf("except: %v", w.Except)
	}
}
