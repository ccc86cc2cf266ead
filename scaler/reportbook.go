package scaler

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
)

// MaxBookReports bounds the reports a ReportBook keeps (and hands over):
// the latest, a few weeks of a busy calendar.
const MaxBookReports = 500

// ReportRecord is a window report as kept and handed over: what the
// calendar page shows of a past occurrence.
type ReportRecord struct {
	Namespace string `json:"namespace"`
	Target    string `json:"target"`
	Window    string `json:"window"`
	// File is where the window is written (window names are unique only
	// within a ConfigMap).
	File     string    `json:"file,omitempty"`
	Start    time.Time `json:"start"`
	Sentence string    `json:"sentence"`
	// Ratio and Expected are the peak and stated multipliers, 0 when
	// unknown.
	Ratio    float64 `json:"ratio,omitempty"`
	Expected float64 `json:"expected,omitempty"`
	Added    float64 `json:"added,omitempty"`
	Saved    float64 `json:"saved,omitempty"`
}

// RecordOf makes the record of a report.
func RecordOf(r *policies.WindowReport) ReportRecord {
	rec := ReportRecord{Namespace: r.Target.Namespace, Target: r.Target.Name, Window: r.Window, File: r.Origin.File, Start: r.Start.UTC(),
		Sentence: r.Sentence(), Added: r.AddedReplicaHours, Saved: r.SavedReplicaHours}
	if v := r.Ratio(); v.OK {
		rec.Ratio = v.V
	}
	if v := r.ExpectedRatio(); v.OK {
		rec.Expected = v.V
	}
	return rec
}

// ReportBook keeps the latest window reports, for the calendar page, and
// hands them to followers and to the next leader. It is safe for
// concurrent use; the zero value is ready.
type ReportBook struct {
	// Lessons, when set, gives what the reports taught (the engine's
	// ExportLessons), served at /reports for plan --reports.
	Lessons func() map[string][]policies.Lesson

	mu      sync.Mutex
	records []ReportRecord // by start, then target and window
	advice  map[string]LeadAdvice
}

// LeadAdvice is the lead time a target's last late window would have
// needed: its floor was ready LateBy after the window's start.
type LeadAdvice struct {
	Window   string        `json:"window"`
	Start    time.Time     `json:"start"`
	LateBy   time.Duration `json:"lateBy"`
	LeadTime time.Duration `json:"leadTime"`
}

// Late is the advice as /reports serves it.
func (a LeadAdvice) Late() config.LateWindow {
	return config.LateWindow{Window: a.Window, Start: a.Start.UTC(), LateBySeconds: a.LateBy.Seconds(), LeadTimeSeconds: a.LeadTime.Seconds()}
}

// Advise keeps the lead time a late window of target would have needed.
func (b *ReportBook) Advise(target ground.TargetKey, window string, start time.Time, lateBy, leadTime time.Duration) {
	b.MergeAdvice(map[string]LeadAdvice{target.String(): {Window: window, Start: start.UTC(), LateBy: lateBy, LeadTime: leadTime}})
}

// MergeAdvice keeps advice by target ("namespace/name"), the later
// window's for a target already advised.
func (b *ReportBook) MergeAdvice(advice map[string]LeadAdvice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.advice == nil {
		b.advice = map[string]LeadAdvice{}
	}
	for k, a := range advice {
		if old, ok := b.advice[k]; !ok || !a.Start.Before(old.Start) {
			b.advice[k] = a
		}
	}
}

// AdviceFor returns the lead time advice of target, if any.
func (b *ReportBook) AdviceFor(target ground.TargetKey) (LeadAdvice, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.advice[target.String()]
	return a, ok
}

// Advice returns a copy of every target's advice, to hand over.
func (b *ReportBook) Advice() map[string]LeadAdvice {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps.Clone(b.advice)
}

var _ ReportSink = (*ReportBook)(nil)

// Report keeps r.
func (b *ReportBook) Report(r policies.WindowReport) { b.Merge([]ReportRecord{RecordOf(&r)}) }

// Merge keeps records, one per target, window and start (the one given
// last), and forgets all but the latest MaxBookReports.
func (b *ReportBook) Merge(records []ReportRecord) {
	if len(records) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rec := range records {
		i, found := slices.BinarySearchFunc(b.records, rec, compareRecords)
		if found {
			b.records[i] = rec
		} else {
			b.records = slices.Insert(b.records, i, rec)
		}
	}
	if n := len(b.records) - MaxBookReports; n > 0 {
		b.records = slices.Delete(b.records, 0, n)
	}
}

func compareRecords(a, b ReportRecord) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if a.Namespace != b.Namespace {
		return compareStrings(a.Namespace, b.Namespace)
	}
	if a.Target != b.Target {
		return compareStrings(a.Target, b.Target)
	}
	if a.Window != b.Window {
		return compareStrings(a.Window, b.Window)
	}
	return compareStrings(a.File, b.File)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Records returns a copy of the reports kept, oldest first.
func (b *ReportBook) Records() []ReportRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.records)
}

// Lookup returns the report of the occurrence at start of the window
// named window in file, on target.
func (b *ReportBook) Lookup(target ground.TargetKey, file, window string, start time.Time) (ReportRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := ReportRecord{Namespace: target.Namespace, Target: target.Name, Window: window, File: file, Start: start.UTC()}
	i, found := slices.BinarySearchFunc(b.records, key, compareRecords)
	if !found {
		return ReportRecord{}, false
	}
	return b.records[i], true
}

// ReportSinks hands each report to every sink in turn.
type ReportSinks []ReportSink

var _ ReportSink = ReportSinks(nil)

// Report hands r to every sink.
func (s ReportSinks) Report(r policies.WindowReport) {
	for _, sink := range s {
		sink.Report(r)
	}
}

// ReportsJSON is the document ServeHTTP serves at /reports: the latest
// window reports, oldest first, and each target's last late window
// (what `primetime plan --reports` reads to suggest a lead time).
type ReportsJSON struct {
	Reports  []ReportRecord               `json:"reports"`
	LeadTime map[string]config.LateWindow `json:"leadTime"`
	// Lessons are what the reports taught each learning group, by
	// "namespace/name|group": plan --reports shows the learned shapes,
	// multipliers and leads from them.
	Lessons map[string][]policies.Lesson `json:"lessons,omitempty"`
}

// ServeHTTP serves the book as a ReportsJSON document (GET or HEAD).
func (b *ReportBook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	doc := ReportsJSON{Reports: b.Records(), LeadTime: map[string]config.LateWindow{}}
	if doc.Reports == nil {
		doc.Reports = []ReportRecord{}
	}
	for k, a := range b.Advice() {
		doc.LeadTime[k] = a.Late()
	}
	if b.Lessons != nil {
		doc.Lessons = b.Lessons()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}
