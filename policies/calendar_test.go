package policies

import (
	"slices"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

func cronWindow(t *testing.T, zone, cron string) *ground.Window {
	t.Helper()
	ws := parseWindows(t, "timezone: "+zone+"\nwindows:\n  - name: w\n    cron: \""+cron+"\"\n    duration: 1h\n    expect: 2x\n    targets: [\"*\"]\n")
	return &ws[0]
}

func starts(w *ground.Window, from, to time.Time) []time.Time {
	var out []time.Time
	Starts(w, from, to, func(t time.Time) bool { out = append(out, t); return true })
	return out
}

func TestCronStartsAcrossDST(t *testing.T) {
	cases := []struct {
		name, zone, cron, from, to string
		loc                        *time.Location
		want                       []string
	}{
		{
			name: "paris spring forward: 02:30 on the jump day starts at 03:00 CEST",
			zone: "Europe/Paris", loc: paris, cron: "30 2 * * *", from: "2026-03-27 00:00", to: "2026-03-31 00:00",
			want: []string{"2026-03-27 02:30 CET", "2026-03-28 02:30 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"},
		},
		{
			name: "paris fall back: 02:30 happens once, at its first occurrence",
			zone: "Europe/Paris", loc: paris, cron: "30 2 * * *", from: "2026-10-24 00:00", to: "2026-10-27 00:00",
			want: []string{"2026-10-24 02:30 CEST", "2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"},
		},
		{
			name: "paris every 30 minutes through the gap: 02:00 and 02:30 merge into 03:00",
			zone: "Europe/Paris", loc: paris, cron: "0,30 1-3 29 3 *", from: "2026-03-29 00:00", to: "2026-03-30 00:00",
			want: []string{"2026-03-29 01:00 CET", "2026-03-29 01:30 CET", "2026-03-29 03:00 CEST", "2026-03-29 03:30 CEST"},
		},
		{
			name: "new york spring forward",
			zone: "America/New_York", loc: ny, cron: "30 2 * * *", from: "2026-03-07 00:00", to: "2026-03-10 00:00",
			want: []string{"2026-03-07 02:30 EST", "2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"},
		},
		{
			name: "new york fall back",
			zone: "America/New_York", loc: ny, cron: "30 1 * * *", from: "2026-10-31 00:00", to: "2026-11-03 00:00",
			want: []string{"2026-10-31 01:30 EDT", "2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"},
		},
		{
			name: "sunday newsletter over one week",
			zone: "Europe/Paris", loc: paris, cron: "0 10 * * SUN", from: "2026-11-23 00:00", to: "2026-11-30 00:00",
			want: []string{"2026-11-29 10:00 CET"},
		},
		{
			name: "weekday evenings over one week",
			zone: "Europe/Paris", loc: paris, cron: "0 20 * * MON-FRI", from: "2026-11-23 00:00", to: "2026-11-30 00:00",
			want: []string{"2026-11-23 20:00 CET", "2026-11-24 20:00 CET", "2026-11-25 20:00 CET", "2026-11-26 20:00 CET", "2026-11-27 20:00 CET"},
		},
		{
			name: "new year's eve",
			zone: "Europe/Paris", loc: paris, cron: "0 23 31 12 *", from: "2026-12-01 00:00", to: "2027-12-31 00:00",
			want: []string{"2026-12-31 23:00 CET"},
		},
		{
			name: "day of month or day of week when both are restricted",
			zone: "UTC", loc: time.UTC, cron: "0 9 1 * MON", from: "2026-11-28 00:00", to: "2026-12-09 00:00",
			want: []string{"2026-11-30 09:00 UTC", "2026-12-01 09:00 UTC", "2026-12-07 09:00 UTC"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := cronWindow(t, tc.zone, tc.cron)
			got := formatStarts(starts(w, at(t, tc.loc, tc.from), at(t, tc.loc, tc.to)), tc.loc)
			if !slices.Equal(got, tc.want) {
				t.Errorf("starts:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestCalendarMatchesEachWindowOnce(t *testing.T) {
	ws := parseWindows(t, `windows:
  - {name: exact-and-wild, start: "2026-11-25 20:45", duration: 15m, expect: 2x, targets: [shop/web, shop/*, shop/web]}
  - {name: everything, start: "2026-11-25 20:45", duration: 15m, expect: 2x, targets: ["*", shop/web]}
  - {name: other-ns, start: "2026-11-25 20:45", duration: 15m, expect: 2x, targets: [staging/*]}
  - {name: exact, start: "2026-11-25 20:45", duration: 15m, expect: 2x, targets: [shop/api]}
`)
	cal := NewCalendar(ws)
	names := func(key ground.TargetKey) []string {
		var out []string
		for _, w := range cal.Matching(key) {
			out = append(out, w.Name)
		}
		slices.Sort(out)
		return out
	}
	if got, want := names(ground.TargetKey{Namespace: "shop", Name: "web"}), []string{"everything", "exact-and-wild"}; !slices.Equal(got, want) {
		t.Errorf("shop/web: got %v, want %v", got, want)
	}
	if got, want := names(ground.TargetKey{Namespace: "shop", Name: "api"}), []string{"everything", "exact", "exact-and-wild"}; !slices.Equal(got, want) {
		t.Errorf("shop/api: got %v, want %v", got, want)
	}
	if got, want := names(ground.TargetKey{Namespace: "staging", Name: "api"}), []string{"everything", "other-ns"}; !slices.Equal(got, want) {
		t.Errorf("staging/api: got %v, want %v", got, want)
	}
}
