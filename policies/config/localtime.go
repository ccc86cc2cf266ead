package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// localLayouts are the wall-clock forms accepted for start and end, read in
// the window's time zone.
var localLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
}

// ParseTime reads a time written either as a wall-clock time in loc
// ("2026-11-25 20:45") or as RFC 3339 with its own offset.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	for _, layout := range localLayouts {
		if w, err := time.Parse(layout, s); err == nil {
			return ground.ResolveLocal(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), loc), nil
		}
	}
	if _, err := time.Parse("2006-01-02", s); err == nil {
		return time.Time{}, fmt.Errorf("%q has no time of day; write it like \"%s 20:45\"", s, s)
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time; write it like \"2026-11-25 20:45\" (in the window's time zone) or as RFC 3339", s)
}
