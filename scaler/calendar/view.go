package calendar

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

func heading(t *ground.Target) string {
	return fmt.Sprintf("%s (%s/%s, mode %s, %d-%d replicas, lead %s)", t.Key(), t.ScaleTargetRef.Kind, t.ScaleTargetRef.Name, t.Mode, t.MinReplicas, t.MaxReplicas, short(t.LeadTime))
}

func zoneOf(w *ground.Window) *time.Location {
	if w.Location != nil {
		return w.Location
	}
	return time.UTC
}

// sameDay is the layout of an end: the time alone on the start's day.
func sameDay(a, b time.Time) string {
	if a.YearDay() == b.YearDay() && a.Year() == b.Year() {
		return "15:04 MST"
	}
	return "Mon 2 Jan 15:04 MST"
}

// short writes a duration briefly: 8m, 1h30m, 45s.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func capRows(rows []row) ([]row, int) {
	if len(rows) > MaxRows {
		return rows[:MaxRows], len(rows) - MaxRows
	}
	return rows, 0
}

func capPast(rows []past) ([]past, int) {
	if len(rows) > MaxRows {
		return rows[:MaxRows], len(rows) - MaxRows
	}
	return rows, 0
}

// ---- what the template shows ----

type view struct {
	DaysGiven      bool
	Until          string
	Namespace      string
	TargetsMore    int
	Now            string
	Refresh        bool
	RefreshSeconds int
	Days           int
	Targets        int
	Windows        int
	TargetViews    []targetView
	Pasted         string
	PasteError     string
	Paste          *pasteView
}

type targetView struct {
	Key, Heading       string
	Cut                string // where a list cut by MaxOccurrences stops
	Usual              string // the baseline the floors of "Nx" windows are shown with
	Advice             string // the lead time a late window would have needed
	State, StateDetail string
	Desired            string
	Coming             []row
	ComingMore         int
	Past               []past
	PastMore           int
}

type row struct {
	Windows, Kind, From, Lead, OnAir, Floor, Cooldown, Until string
}

type past struct {
	Window, When, Expect, Report string
}

type problem struct {
	Line    int
	Text    string
	Warning bool
}

type pasteView struct {
	Empty            bool
	Problems         []problem
	Errors, Warnings int
	Windows          int
	Plans            []targetView
	PlansMore        int
	Until            string
}

// stateClass names a state's CSS class.
func stateClass(s string) string { return "state-" + strings.ReplaceAll(s, " ", "-") }

// formatLoad writes a load briefly: 1000, 16.7.
func formatLoad(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// plural writes "1 window", "2 windows".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

var pageTemplate = template.Must(template.New("calendar").Funcs(template.FuncMap{"stateClass": stateClass, "plural": plural}).Parse(pageHTML))
