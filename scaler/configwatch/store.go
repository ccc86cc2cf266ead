package configwatch

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies/config"
)

// ReasonInvalidEntry is the Event reason for a rejected entry.
const ReasonInvalidEntry = "InvalidEntry"

// cmState is what one ConfigMap contributes.
type cmState struct {
	key             string // namespace/name
	ref             *corev1.ObjectReference
	created         time.Time
	resourceVersion string
	targets         map[string]ground.Target // by entry name: the version in force
	windows         map[string]ground.Window
	invalidTargets  int
	invalidWindows  int
	// good holds, for each entry in force ("kind/name"), the data of the
	// ConfigMap version it was read from: a rejected entry's last good
	// version is saved from there (SavedEntry).
	good map[string]map[string]string
	// rejected names the entries ("kind/name") this version rejected.
	rejected map[string]bool
	// problems are this version's InvalidEntry Events.
	problems []problemEvent
}

// problemEvent is an InvalidEntry Event: recorded once, by whichever
// replica reports (the leader), and never again for the same ConfigMap
// version and text.
type problemEvent struct {
	ref *corev1.ObjectReference
	msg string
	key string // ConfigMap|resourceVersion|message
}

func newProblemEvent(ref *corev1.ObjectReference, msg string) problemEvent {
	return problemEvent{ref: ref, msg: msg, key: ref.Namespace + "/" + ref.Name + "|" + ref.ResourceVersion + "|" + msg}
}

// Memory is what the store hands over to the next leader with the state:
// which InvalidEntry Events were recorded, and the last good version of
// each rejected entry.
type Memory struct {
	Reported []string     `json:"reported,omitempty"`
	LastGood []SavedEntry `json:"lastGood,omitempty"`
}

// SavedEntry is the last good version of a rejected entry: the data of
// the ConfigMap version it was valid in.
type SavedEntry struct {
	ConfigMap string            `json:"configMap"` // namespace/name
	Kind      config.EntryKind  `json:"kind"`
	Name      string            `json:"name"`
	Data      map[string]string `json:"data"`
}

// Store holds the entries in force. It is safe for concurrent use.
type Store struct {
	// Loader expands the template variables of targets' queries with the
	// daemon's --cluster and environment; set it before the first Apply.
	Loader config.Loader

	recorder record.EventRecorder
	log      *zap.Logger

	mu      sync.RWMutex
	cms     map[string]*cmState // "namespace/name"
	version uint64
	snap    *ground.Snapshot
	// conflicts are the InvalidEntry Events of the last snapshot's
	// conflicts (a target defined twice, a workload driven twice).
	conflicts []problemEvent
	// reporting: Events are recorded (the leader); reported holds the
	// keys of those recorded, by this replica or the previous leader.
	reporting bool
	reported  map[string]bool
}

// NewStore returns an empty store. recorder may be nil in tests that do
// not look at Events.
func NewStore(recorder record.EventRecorder, log *zap.Logger) *Store {
	if recorder == nil {
		recorder = &record.FakeRecorder{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{recorder: recorder, log: log, cms: map[string]*cmState{}, reporting: true, reported: map[string]bool{}}
}

// StopReporting makes the store keep its InvalidEntry Events instead of
// recording them: a follower's, so that one bad edit gives one Event
// whatever the number of replicas.
func (s *Store) StopReporting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reporting = false
}

// StartReporting records, from now on, the InvalidEntry Events not
// recorded yet: those of the current ConfigMap versions that neither this
// replica nor the previous leader (its Memory) recorded.
func (s *Store) StartReporting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reporting = true
	for _, st := range s.cms {
		s.report(st.problems)
	}
	s.report(s.conflicts)
}

// report records the Events not recorded yet, when reporting; s.mu held.
func (s *Store) report(events []problemEvent) {
	if !s.reporting {
		return
	}
	for _, e := range events {
		if s.reported[e.key] {
			continue
		}
		s.reported[e.key] = true
		s.recorder.Event(e.ref, corev1.EventTypeWarning, ReasonInvalidEntry, e.msg)
	}
}

// Memory returns what the next leader needs to take over.
func (s *Store) Memory() Memory {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var m Memory
	current := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(s.cms)) {
		st := s.cms[key]
		for _, e := range st.problems {
			current[e.key] = true
		}
		for _, ref := range slices.Sorted(maps.Keys(st.rejected)) {
			kind, name, _ := strings.Cut(ref, "/")
			if data, ok := st.good[ref]; ok {
				m.LastGood = append(m.LastGood, SavedEntry{ConfigMap: key, Kind: config.EntryKind(kind), Name: name, Data: data})
			}
		}
	}
	for _, e := range s.conflicts {
		current[e.key] = true
	}
	for k := range s.reported {
		if current[k] {
			m.Reported = append(m.Reported, k)
		}
	}
	slices.Sort(m.Reported)
	return m
}

// Restore takes over a previous leader's Memory: its recorded Events are
// not recorded again, and a rejected entry with no last good version in
// memory (after a restart) gets the one saved.
func (s *Store) Restore(m Memory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range m.Reported {
		s.reported[k] = true
	}
	restored := false
	for _, e := range m.LastGood {
		st := s.cms[e.ConfigMap]
		ref := string(e.Kind) + "/" + e.Name
		if st == nil || !st.rejected[ref] || st.good[ref] != nil {
			continue // gone, valid again, or kept already
		}
		ns, name, _ := strings.Cut(e.ConfigMap, "/")
		res := s.Loader.ParseConfigMapData(ns, name, e.Data)
		switch e.Kind {
		case config.KindTarget:
			for _, t := range res.Targets {
				if t.Name == e.Name {
					st.targets[t.Name], st.good[ref], restored = t, e.Data, true
				}
			}
		case config.KindWindow:
			for _, w := range res.Windows {
				if w.Name == e.Name {
					st.windows[w.Name], st.good[ref], restored = w, e.Data, true
				}
			}
		}
	}
	if restored {
		s.changed()
	}
}

func cmKey(cm *corev1.ConfigMap) string { return cm.Namespace + "/" + cm.Name }

// Apply validates a new version of a ConfigMap and updates the entries in
// force. The same resourceVersion twice (an informer resync) is a no-op.
func (s *Store) Apply(cm *corev1.ConfigMap) {
	key := cmKey(cm)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cms[key]
	if old != nil && old.resourceVersion == cm.ResourceVersion && cm.ResourceVersion != "" {
		return
	}
	if old == nil {
		old = &cmState{}
	}
	res := s.Loader.ParseConfigMapData(cm.Namespace, cm.Name, cm.Data)
	next := &cmState{key: key, created: cm.CreationTimestamp.Time, resourceVersion: cm.ResourceVersion,
		ref:     &corev1.ObjectReference{Kind: "ConfigMap", APIVersion: "v1", Namespace: cm.Namespace, Name: cm.Name, UID: cm.UID, ResourceVersion: cm.ResourceVersion},
		targets: map[string]ground.Target{}, windows: map[string]ground.Window{},
		good: map[string]map[string]string{}, rejected: map[string]bool{}}

	// Keys whose YAML does not parse keep all their last good entries.
	broken := map[string]bool{}
	for _, p := range res.Problems {
		if p.Kind == "" && !p.Warning {
			broken[p.File] = true
		}
	}
	kept := map[string]bool{} // "kind/name" of rejected entries kept at their last good version
	for _, t := range res.Targets {
		next.targets[t.Name] = t
		next.good["target/"+t.Name] = cm.Data
	}
	for _, w := range res.Windows {
		next.windows[w.Name] = w
		next.good["window/"+w.Name] = cm.Data
	}
	for _, r := range res.Rejected {
		ref := string(r.Kind) + "/" + r.Name
		next.rejected[ref] = true
		switch r.Kind {
		case config.KindTarget:
			next.invalidTargets++
			if t, ok := old.targets[r.Name]; ok {
				if _, dup := next.targets[r.Name]; !dup {
					next.targets[r.Name], kept[ref], next.good[ref] = t, true, old.good[ref]
				}
			}
		case config.KindWindow:
			next.invalidWindows++
			if w, ok := old.windows[r.Name]; ok {
				if _, dup := next.windows[r.Name]; !dup {
					next.windows[r.Name], kept[ref], next.good[ref] = w, true, old.good[ref]
				}
			}
		}
	}
	for name, t := range old.targets {
		if _, ok := next.targets[name]; !ok && broken[t.Origin.File] {
			next.targets[name], next.good["target/"+name] = t, old.good["target/"+name]
		}
	}
	for name, w := range old.windows {
		if _, ok := next.windows[name]; !ok && broken[w.Origin.File] {
			next.windows[name], next.good["window/"+name] = w, old.good["window/"+name]
		}
	}
	s.cms[key] = next
	s.changed()

	for _, p := range res.Problems.Errors() {
		msg := eventText(p, key)
		switch {
		case kept[string(p.Kind)+"/"+p.Entry]:
			msg += "; its last good version stays in force"
		case p.Kind == "" && broken[p.File]:
			msg += "; the last good entries of this key stay in force"
		}
		next.problems = append(next.problems, newProblemEvent(next.ref, msg))
		s.log.Warn("rejected configuration entry", zap.String("configmap", key), zap.String("problem", msg))
	}
	s.report(next.problems)
}

// Delete removes a ConfigMap's entries.
func (s *Store) Delete(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cms[namespace+"/"+name]; ok {
		delete(s.cms, namespace+"/"+name)
		s.changed()
	}
}

func (s *Store) changed() {
	s.version++
	s.snap = nil
}

// Snapshot returns the entries in force, sorted by namespace and name. A
// target defined twice, or a workload driven by two hpa-floor or scale
// targets, goes to the oldest ConfigMap (then the first by name); the
// other definition is rejected, with an Event on both ConfigMaps when the
// conflict appears.
func (s *Store) Snapshot() *ground.Snapshot {
	s.mu.RLock()
	if snap := s.snap; snap != nil {
		s.mu.RUnlock()
		return snap
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil {
		return s.snap
	}
	states := make([]*cmState, 0, len(s.cms))
	for _, st := range s.cms {
		states = append(states, st)
	}
	sort.Slice(states, func(i, j int) bool {
		a, b := states[i], states[j]
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.key < b.key
	})
	snap := &ground.Snapshot{Version: s.version}
	var targets []ground.Target
	byFile := map[string]*cmState{}
	for _, st := range states {
		for _, name := range slices.Sorted(maps.Keys(st.targets)) {
			t := st.targets[name]
			targets = append(targets, t)
			byFile[t.Origin.File] = st
		}
		for _, w := range st.windows {
			snap.Windows = append(snap.Windows, w)
		}
		snap.InvalidTargets += st.invalidTargets
		snap.InvalidWindows += st.invalidWindows
	}
	kept, conflicts := config.ResolveConflicts(targets)
	snap.Targets = kept
	snap.InvalidTargets += len(conflicts)
	s.conflicts = s.conflicts[:0]
	for _, c := range conflicts {
		if st := byFile[c.Rejected.Origin.File]; st != nil {
			s.conflicts = append(s.conflicts, newProblemEvent(st.ref, eventText(c.Problem, st.key)))
		}
		if st := byFile[c.Winner.Origin.File]; st != nil {
			s.conflicts = append(s.conflicts, newProblemEvent(st.ref, fmt.Sprintf("target %s (%s line %d) stays in force; %s (%s) was rejected: %s",
				c.Winner.Key(), strings.TrimPrefix(c.Winner.Origin.File, st.key), c.Winner.Origin.Line, c.Rejected.Key(), c.Rejected.Origin, c.Problem.Reason)))
		}
	}
	s.report(s.conflicts)
	snap.ValidTargets, snap.ValidWindows = len(snap.Targets), len(snap.Windows)
	sort.Slice(snap.Targets, func(i, j int) bool {
		a, b := snap.Targets[i], snap.Targets[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	sort.Slice(snap.Windows, func(i, j int) bool {
		a, b := snap.Windows[i], snap.Windows[j]
		return a.Origin.File+"/"+a.Name < b.Origin.File+"/"+b.Name
	})
	s.snap = snap
	return snap
}

// eventText turns a problem into an InvalidEntry Event's text: the entry,
// field and reason, then where in the ConfigMap.
func eventText(p config.Problem, cmKey string) string {
	msg := strings.TrimPrefix(p.Error(), p.File+":")
	if p.Line > 0 {
		msg = strings.TrimPrefix(msg, fmt.Sprintf("%d: ", p.Line))
		msg += fmt.Sprintf(" (%s line %d)", strings.TrimPrefix(p.File, cmKey), p.Line)
	} else {
		msg = strings.TrimPrefix(msg, " ")
	}
	return msg
}

// Ref returns a reference to the ConfigMap namespace/name as last seen,
// for an Event about it; false when the store does not hold it.
func (s *Store) Ref(namespace, name string) (*corev1.ObjectReference, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.cms[namespace+"/"+name]
	if st == nil || st.ref == nil {
		return nil, false
	}
	ref := *st.ref
	return &ref, true
}
