package scaler

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"
)

// Published is what the external metrics API serves for one target: the
// leader's decision, or why there is none.
type Published struct {
	Namespace string `json:"ns"`
	Name      string `json:"name"`
	// Replicas is primetime_replicas; nil when there is no value.
	Replicas *int32 `json:"replicas,omitempty"`
	// Load is primetime_load, the effective load; nil when unknown.
	Load *float64 `json:"load,omitempty"`
	// Floor is set while a window's floor is in force.
	Floor bool `json:"floor,omitempty"`
	// FloorReplicas is that floor, when it could be computed.
	FloorReplicas *int32 `json:"floorReplicas,omitempty"`
	// At is when the decision was made.
	At time.Time `json:"at"`
	// Error says why there is no value (stale data, source failing, ...).
	Error string `json:"error,omitempty"`
}

// boardState is one immutable generation of the board.
type boardState struct {
	byNamespace map[string][]*Published
	byName      map[string]map[string]*Published
	at          time.Time
}

// Board holds the published decisions. Readers (every API request) never
// lock: the engine swaps in a whole new generation per cycle.
type Board struct {
	state atomic.Pointer[boardState]

	// changed is closed by the next Replace; made on demand by Changed.
	mu      sync.Mutex
	changed chan struct{}
}

// Replace publishes a new generation.
func (b *Board) Replace(entries []Published, at time.Time) {
	st := &boardState{byNamespace: map[string][]*Published{}, byName: map[string]map[string]*Published{}, at: at}
	for i := range entries {
		p := &entries[i]
		st.byNamespace[p.Namespace] = append(st.byNamespace[p.Namespace], p)
		if st.byName[p.Namespace] == nil {
			st.byName[p.Namespace] = map[string]*Published{}
		}
		st.byName[p.Namespace][p.Name] = p
	}
	for _, list := range st.byNamespace {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	b.state.Store(st)
	b.mu.Lock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	b.mu.Unlock()
}

// Changed returns a channel closed when the next generation is published
// (the next Replace after the call). A watcher takes the channel first,
// then reads the board, then waits: a generation published in between
// closes the channel it holds, so none is missed.
func (b *Board) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.changed
}

// Ready reports whether a generation has been published.
func (b *Board) Ready() bool { return b.state.Load() != nil }

// UpdatedAt returns when the current generation was made.
func (b *Board) UpdatedAt() time.Time {
	if st := b.state.Load(); st != nil {
		return st.at
	}
	return time.Time{}
}

// Lookup returns the entries of namespace whose label set {target: name}
// matches selector.
func (b *Board) Lookup(namespace string, selector labels.Selector) []*Published {
	st := b.state.Load()
	if st == nil {
		return nil
	}
	// The HPA's usual selector, target=<name>: one map look-up.
	if name, ok := selector.RequiresExactMatch("target"); ok {
		if p, found := st.byName[namespace][name]; found && selector.Matches(labels.Set{"target": p.Name}) {
			return []*Published{p}
		}
		return nil
	}
	var out []*Published
	for _, p := range st.byNamespace[namespace] {
		if selector.Matches(labels.Set{"target": p.Name}) {
			out = append(out, p)
		}
	}
	return out
}

// All returns every entry of the current generation.
func (b *Board) All() []Published {
	st := b.state.Load()
	if st == nil {
		return nil
	}
	var out []Published
	for _, list := range st.byNamespace {
		for _, p := range list {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}
