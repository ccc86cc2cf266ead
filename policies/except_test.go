package policies

import (
	"strings"
	"testing"
	"time"
)

// A daily window at 00:30 in Paris, skipped on Christmas and on the day the
// clocks go forward. 00:30 in Paris is the previous day in UTC, so the
// exception must be read on the wall clock, not UTC's.
const exceptWindows = `timezone: Europe/Paris
windows:
  - name: late-show
    cron: "30 0 * * *"
    except: ["2026-12-24..2026-12-26", "2027-03-28"]
    duration: 1h
    expect: 2x
    targets: [storefront/web]
`

func TestExceptedDatesAroundChristmasAndDST(t *testing.T) {
	ws := parseWindows(t, exceptWindows)
	web := webTarget()
	// Baseline 1000 → 2x = 2000 → 40 replicas; lead 8m.
	cases := []struct {
		wall  string
		phase Phase // "": no floor
	}{
		{"2026-12-23 00:45", PhaseActive},
		{"2026-12-24 00:22", ""}, // the lead of an excepted start
		{"2026-12-24 00:45", ""},
		{"2026-12-25 00:45", ""},
		{"2026-12-26 00:45", ""},
		{"2026-12-27 00:22", PhaseLead},
		{"2026-12-27 00:45", PhaseActive},
		{"2027-03-27 00:45", PhaseActive}, // CET, UTC+1
		{"2027-03-28 00:22", ""},
		{"2027-03-28 00:45", ""},
		{"2027-03-28 03:30", ""},          // after the jump, still the excepted day
		{"2027-03-29 00:22", PhaseLead},   // CEST: 2027-03-28 22:22 UTC, an excepted date in UTC
		{"2027-03-29 00:45", PhaseActive}, // 2027-03-28 22:45 UTC
	}
	for _, tc := range cases {
		t.Run(tc.wall, func(t *testing.T) {
			s := floorAt(web, ws, at(t, paris, tc.wall), 1000)
			if tc.phase == "" {
				if s.Floor.OK {
					t.Fatalf("want no floor, got %d", s.Floor.V)
				}
				return
			}
			e, ok := s.FloorWindow()
			if !ok || s.Floor.V != 40 || e.Phase != tc.phase {
				t.Fatalf("want floor 40 in phase %s, got %v (%+v)", tc.phase, s.Floor, e)
			}
		})
	}
}

func TestStartsSkipsExceptedDates(t *testing.T) {
	ws := parseWindows(t, exceptWindows)
	from, to := at(t, paris, "2027-03-26 00:00"), at(t, paris, "2027-03-31 00:00")
	var got []time.Time
	Starts(&ws[0], from, to, func(s time.Time) bool { got = append(got, s); return true })
	want := []string{"2027-03-26 00:30 CET", "2027-03-27 00:30 CET", "2027-03-29 00:30 CEST", "2027-03-30 00:30 CEST"}
	if g := formatStarts(got, paris); len(g) != len(want) || g[0] != want[0] || g[1] != want[1] || g[2] != want[2] || g[3] != want[3] {
		t.Fatalf("starts %v, want %v", g, want)
	}
}

func TestHorizonReachesTheNextOccurrenceOfEveryWindow(t *testing.T) {
	const doc = `timezone: Europe/Paris
windows:
  - name: spot-in-four-weeks
    start: "2027-01-06 20:45"
    duration: 15m
    cooldown: 20m
    expect: 5x
    targets: [storefront/web]
  - name: past
    start: "2026-11-01 20:00"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
  - name: sunday
    cron: "0 10 * * SUN"
    duration: 1h
    expect: 2x
    targets: [storefront/web]
`
	ws := parseWindows(t, doc)
	from := at(t, paris, "2026-12-09 12:00")
	cases := []struct {
		name    string
		windows int
		want    string
	}{
		{"far one-off: through its end, cooldown and longest step-down", 3, "2027-01-06 22:24"},
		{"only the past and a weekly window: 7 days", 0, "2026-12-16 12:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := ws[1:]
			if tc.windows == 3 {
				in = ws
			}
			got := Horizon(in, from, 7*24*time.Hour, 366*24*time.Hour)
			if g := got.In(paris).Format("2006-01-02 15:04"); g != tc.want {
				t.Fatalf("horizon %s, want %s", g, tc.want)
			}
		})
	}
}

func TestExceptAroundTheAutumnClockChange(t *testing.T) {
	// 02:30 happens twice in Paris on 31 October 2027: the window starts at
	// the first (CEST); the day before is excepted, the day after is CET.
	ws := parseWindows(t, `timezone: Europe/Paris
windows:
  - name: night-batch
    cron: "30 2 * * *"
    except: ["2027-10-30"]
    duration: 30m
    expect: 2x
    targets: [storefront/web]
`)
	var got []time.Time
	Starts(&ws[0], at(t, paris, "2027-10-29 00:00"), at(t, paris, "2027-11-02 00:00"), func(s time.Time) bool { got = append(got, s); return true })
	want := []string{"2027-10-29 02:30 CEST", "2027-10-31 02:30 CEST", "2027-11-01 02:30 CET"}
	if g := formatStarts(got, paris); strings.Join(g, ", ") != strings.Join(want, ", ") {
		t.Fatalf("starts %v, want %v", g, want)
	}
}
