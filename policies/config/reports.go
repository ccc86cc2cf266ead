package config

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// LateWindow is a target's last window whose floor was not ready at its
// start, as the daemon's /reports serves it and plan --reports reads it:
// the floor was ready LateBySeconds after Start, and a lead time of
// LeadTimeSeconds would have had it ready in time.
type LateWindow struct {
	Window          string    `json:"window"`
	Start           time.Time `json:"start"`
	LateBySeconds   float64   `json:"lateBySeconds"`
	LeadTimeSeconds float64   `json:"leadTimeSeconds"`
}

// LateBy is LateBySeconds as a duration.
func (l LateWindow) LateBy() time.Duration { return seconds(l.LateBySeconds) }

// LeadTime is LeadTimeSeconds as a duration.
func (l LateWindow) LeadTime() time.Duration { return seconds(l.LeadTimeSeconds) }

// Advice says, when the lead time that would have had the floor ready
// is longer than leadTime (the target's now), what a user should do: "tf1-spot on
// Thu 10 Dec 19:45 UTC was ready 41s late: a leadTime of 9m30s (now 8m)
// would have had it ready in time". False once leadTime is long enough.
func (l LateWindow) Advice(leadTime time.Duration) (string, bool) {
	if l.LeadTime() <= leadTime {
		return "", false
	}
	return fmt.Sprintf("%s on %s was ready %s late: a leadTime of %s (now %s) would have had it ready in time",
		l.Window, l.Start.UTC().Format("Mon 2 Jan 15:04 MST"), FormatDuration(l.LateBy().Round(time.Second)),
		FormatDuration(l.LeadTime()), FormatDuration(leadTime)), true
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// ReportsDocument is the part of the daemon's /reports document that
// plan reads: the late windows by target ("namespace/name").
type ReportsDocument struct {
	LeadTime map[string]LateWindow `json:"leadTime"`
	// Lessons are what the reports taught, by "namespace/name|group" (the
	// daemon's handed-over lessons), left raw: policies.Learning reads
	// them (ImportJSON).
	Lessons json.RawMessage `json:"lessons,omitempty"`
}

// ParseReports reads a /reports document (name is its file or address,
// for the errors). Each entry is checked: a target that is not
// "namespace/name", a window without a name, a negative delay or a lead
// time that is not a positive number of seconds is an error naming the
// entry and the field; nothing of a bad document is used.
func ParseReports(name string, data []byte) (map[ground.TargetKey]LateWindow, error) {
	late, _, err := parseReports(name, data)
	return late, err
}

// ParseReportsLessons is ParseReports that also returns the document's
// lessons, raw (nil when it has none).
func ParseReportsLessons(name string, data []byte) (map[ground.TargetKey]LateWindow, json.RawMessage, error) {
	return parseReports(name, data)
}

func parseReports(name string, data []byte) (map[ground.TargetKey]LateWindow, json.RawMessage, error) {
	var doc ReportsDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: not a primetime /reports document: %v", name, err)
	}
	out := make(map[ground.TargetKey]LateWindow, len(doc.LeadTime))
	for k, l := range doc.LeadTime {
		key, ok := ground.ParseTargetKey(k)
		if !ok {
			return nil, nil, fmt.Errorf("%s: leadTime %q: the target must be namespace/name", name, k)
		}
		switch {
		case l.Window == "":
			return nil, nil, fmt.Errorf("%s: leadTime %q: window: missing", name, k)
		case l.Start.IsZero():
			return nil, nil, fmt.Errorf("%s: leadTime %q: start: missing", name, k)
		case l.LateBySeconds < 0 || math.IsNaN(l.LateBySeconds):
			return nil, nil, fmt.Errorf("%s: leadTime %q: lateBySeconds: must not be negative, got %v", name, k, l.LateBySeconds)
		case !(l.LeadTimeSeconds > 0) || math.IsInf(l.LeadTimeSeconds, 0):
			return nil, nil, fmt.Errorf("%s: leadTime %q: leadTimeSeconds: must be a positive number of seconds, got %v", name, k, l.LeadTimeSeconds)
		}
		out[key] = l
	}
	return out, doc.Lessons, nil
}

// MaxReportsSize bounds a /reports document plan reads.
const MaxReportsSize = 16 << 20

// ReadReports reads primetime serve's /reports document (plan --reports)
// from a file, or from an http:// or https:// address (within 15 s), and
// returns the last late window of each target (ParseReports), with the
// lessons it holds, raw. Empty: none.
func ReadReports(ctx context.Context, from string) (map[ground.TargetKey]LateWindow, json.RawMessage, error) {
	if from == "" {
		return nil, nil, nil
	}
	var data []byte
	if strings.HasPrefix(from, "http://") || strings.HasPrefix(from, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
		if err != nil {
			return nil, nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		data, err = io.ReadAll(io.LimitReader(resp.Body, MaxReportsSize+1))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", from, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("%s: %s: %s", from, resp.Status, strings.TrimSpace(string(data[:min(len(data), 200)])))
		}
	} else {
		var err error
		if data, err = os.ReadFile(from); err != nil {
			return nil, nil, err
		}
	}
	if len(data) > MaxReportsSize {
		return nil, nil, fmt.Errorf("%s: larger than %d MiB", from, MaxReportsSize>>20)
	}
	return ParseReportsLessons(from, data)
}
