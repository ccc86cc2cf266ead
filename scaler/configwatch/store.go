// Package configwatch keeps the targets and windows in force from the
// ConfigMaps labelled primetime.dev/targets and primetime.dev/windows,
// watched with client-go informers.
//
// Every change is validated again. A rejected entry is reported as an
// InvalidEntry Event on its ConfigMap, naming the entry, the field and the
// reason, and the last good version of that entry stays in force; a key
// whose YAML does not parse at all keeps all its last good entries; entries
// removed from a ConfigMap, or a deleted ConfigMap, are removed.
package configwatch

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/primetime-dev/primetime/policies/config"
)

// ReasonInvalidEntry is the Event reason for a rejected entry.
const ReasonInvalidEntry = "InvalidEntry"

// cmState is what one ConfigMap contributes.
type cmState struct {
	resourceVersion string
	targets         map[string]config.Target // by entry name: the version in force
	windows         map[string]config.Window
	invalidTargets  int
	invalidWindows  int
}

// Store holds the entries in force. It is safe for concurrent use.
type Store struct {
	recorder record.EventRecorder
	log      *zap.Logger

	mu      sync.RWMutex
	cms     map[string]*cmState // "namespace/name"
	version uint64
	snap    *Snapshot
}

// Snapshot is a consistent view of the entries in force.
type Snapshot struct {
	// Version changes whenever an entry changes.
	Version uint64
	Targets []config.Target
	Windows []config.Window
	// Counts of entries, for primetime_config_entries.
	ValidTargets, InvalidTargets, ValidWindows, InvalidWindows int
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
	return &Store{recorder: recorder, log: log, cms: map[string]*cmState{}}
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
	res := config.ParseConfigMapData(cm.Namespace, cm.Name, cm.Data)
	next := &cmState{resourceVersion: cm.ResourceVersion, targets: map[string]config.Target{}, windows: map[string]config.Window{}}

	// Keys whose YAML does not parse keep all their last good entries.
	broken := map[string]bool{}
	for _, p := range res.Problems {
		if p.Kind == "" && !p.Warning {
			broken[p.File] = true
		}
	}
	kept := map[string]bool{} // "kind/name" of rejected entries kept at their last good version
	for _, t := range res.Targets {
		if owner := s.targetOwner(t.Key(), key); owner != "" {
			res.Problems = append(res.Problems, config.Problem{File: t.Origin.File, Line: t.Origin.Line, Kind: config.KindTarget,
				Entry: t.Name, Field: "name", Reason: fmt.Sprintf("target %s is already defined in ConfigMap %s", t.Key(), owner)})
			next.invalidTargets++
			continue
		}
		next.targets[t.Name] = t
	}
	for _, w := range res.Windows {
		next.windows[w.Name] = w
	}
	for _, r := range res.Rejected {
		switch r.Kind {
		case config.KindTarget:
			next.invalidTargets++
			if t, ok := old.targets[r.Name]; ok {
				if _, dup := next.targets[r.Name]; !dup {
					next.targets[r.Name], kept["target/"+r.Name] = t, true
				}
			}
		case config.KindWindow:
			next.invalidWindows++
			if w, ok := old.windows[r.Name]; ok {
				if _, dup := next.windows[r.Name]; !dup {
					next.windows[r.Name], kept["window/"+r.Name] = w, true
				}
			}
		}
	}
	for name, t := range old.targets {
		if _, ok := next.targets[name]; !ok && broken[t.Origin.File] {
			next.targets[name] = t
		}
	}
	for name, w := range old.windows {
		if _, ok := next.windows[name]; !ok && broken[w.Origin.File] {
			next.windows[name] = w
		}
	}
	s.cms[key] = next
	s.changed()

	for _, p := range res.Problems.Errors() {
		msg := strings.TrimPrefix(p.Error(), p.File+":")
		if p.Line > 0 {
			msg = strings.TrimPrefix(msg, fmt.Sprintf("%d: ", p.Line))
			msg += fmt.Sprintf(" (%s line %d)", strings.TrimPrefix(p.File, key), p.Line)
		} else {
			msg = strings.TrimPrefix(msg, " ")
		}
		switch {
		case kept[string(p.Kind)+"/"+p.Entry]:
			msg += "; its last good version stays in force"
		case p.Kind == "" && broken[p.File]:
			msg += "; the last good entries of this key stay in force"
		}
		s.recorder.Event(cm, corev1.EventTypeWarning, ReasonInvalidEntry, msg)
		s.log.Warn("rejected configuration entry", zap.String("configmap", key), zap.String("problem", msg))
	}
}

// targetOwner returns the other ConfigMap already defining key, if any.
func (s *Store) targetOwner(key config.TargetKey, self string) string {
	for name, st := range s.cms {
		if name == self {
			continue
		}
		if t, ok := st.targets[key.Name]; ok && t.Namespace == key.Namespace {
			return name
		}
	}
	return ""
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

// Snapshot returns the entries in force, sorted by namespace and name.
func (s *Store) Snapshot() *Snapshot {
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
	snap := &Snapshot{Version: s.version}
	for _, st := range s.cms {
		for _, t := range st.targets {
			snap.Targets = append(snap.Targets, t)
		}
		for _, w := range st.windows {
			snap.Windows = append(snap.Windows, w)
		}
		snap.InvalidTargets += st.invalidTargets
		snap.InvalidWindows += st.invalidWindows
	}
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
