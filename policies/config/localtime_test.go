package config

import (
	"testing"
	"time"
)

func TestResolveLocalDST(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name string
		loc  *time.Location
		wall string
		want string // UTC
	}{
		{"paris ordinary winter time", paris, "2026-11-25 20:45", "2026-11-25T19:45:00Z"},
		{"paris ordinary summer time", paris, "2026-07-14 22:00", "2026-07-14T20:00:00Z"},
		{"paris spring forward: 02:30 does not exist, starts at the jump (03:00 CEST)", paris, "2026-03-29 02:30", "2026-03-29T01:00:00Z"},
		{"paris spring forward: 02:00 does not exist either", paris, "2026-03-29 02:00", "2026-03-29T01:00:00Z"},
		{"paris just after the jump", paris, "2026-03-29 03:00", "2026-03-29T01:00:00Z"},
		{"paris fall back: 02:30 happens twice, first one (CEST)", paris, "2026-10-25 02:30", "2026-10-25T00:30:00Z"},
		{"paris fall back: 03:00 is unambiguous (CET)", paris, "2026-10-25 03:00", "2026-10-25T02:00:00Z"},
		{"new york spring forward: 02:30 starts at 03:00 EDT", ny, "2026-03-08 02:30", "2026-03-08T07:00:00Z"},
		{"new york fall back: 01:30 happens twice, first one (EDT)", ny, "2026-11-01 01:30", "2026-11-01T05:30:00Z"},
		{"new york ordinary", ny, "2026-11-26 18:00", "2026-11-26T23:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTime(tc.wall, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if s := got.UTC().Format(time.RFC3339); s != tc.want {
				t.Errorf("%s in %s: got %s (%s), want %s", tc.wall, tc.loc, s, got, tc.want)
			}
		})
	}
}

func TestParseTimeRFC3339KeepsItsOffset(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	got, err := ParseTime("2026-11-25T20:45:00-05:00", paris)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(time.Date(2026, 11, 26, 1, 45, 0, 0, time.UTC)) {
		t.Errorf("got %s", got.UTC())
	}
}
