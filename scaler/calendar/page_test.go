package calendar

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
	"github.com/primetime-dev/primetime/policies/config"
	"github.com/primetime-dev/primetime/scaler"
)

const testTargets = `targets:
  - name: web
    namespace: storefront
    scaleTargetRef: {kind: Deployment, name: web}
    load: {prometheus: 'sum(rate(x[1m]))'}
    capacityPerReplica: 50
    minReplicas: 2
    maxReplicas: 300
    leadTime: 8m
`

const testWindows = `timezone: Europe/Paris
windows:
  - name: tf1-prime-spot
    start: "2026-12-10 20:45"
    duration: 15m
    expect: 5x
    targets: [storefront/web]
  - name: sunday-newsletter
    cron: "0 10 * * SUN"
    except: ["2026-12-06"]
    duration: 1h
    expect: 2x
    targets: [storefront/*]
`

type fixedConfig struct{ snap *ground.Snapshot }

func (f fixedConfig) Snapshot() *ground.Snapshot { return f.snap }

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// newPage returns a page over the test targets and windows, at now, with
// the board and ready replicas given.
func newPage(t *testing.T, now time.Time, board []scaler.Published, ready int32) *Page {
	t.Helper()
	res := &config.Result{}
	res.Merge(config.ParseFile("targets.yaml", []byte(testTargets)))
	res.Merge(config.ParseFile("windows.yaml", []byte(testWindows)))
	if len(res.Problems) > 0 {
		t.Fatalf("test configuration: %v", res.Problems)
	}
	b := &scaler.Board{}
	b.Replace(board, now)
	return &Page{
		Config: fixedConfig{&ground.Snapshot{Targets: res.Targets, Windows: res.Windows}},
		Board:  b,
		Ready:  func(context.Context, *ground.Target) ground.Opt[int32] { return ground.Some(ready) },
		Clock:  func() time.Time { return now },
	}
}

func get(t *testing.T, p *Page, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Header(), rec.Body.String()
}

func post(t *testing.T, p *Page, windows string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/calendar", strings.NewReader(url.Values{"windows": {windows}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func i32(v int32) *int32     { return &v }
func f64(v float64) *float64 { return &v }

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
	rowRE   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	stateRE = regexp.MustCompile(`data-state="([^"]*)"`)
)

// text is an HTML fragment as a reader sees it: no tags, entities read,
// spaces collapsed.
func text(html string) string {
	s := tagRE.ReplaceAllString(html, " ")
	s = strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// section returns the HTML of the element with the id, up to </section>.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no section %s in:\n%s", id, body)
	}
	j := strings.Index(body[i:], "</section>")
	return body[i : i+j]
}

// table returns the table of the class in html.
func table(t *testing.T, html, class string) string {
	t.Helper()
	i := strings.Index(html, `<table class="`+class+`">`)
	if i < 0 {
		t.Fatalf("no table %s in:\n%s", class, html)
	}
	return html[i : i+strings.Index(html[i:], "</table>")]
}

// rows returns the text of the data rows of the tables in html.
func rows(html string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(html, -1) {
		if !strings.Contains(m[1], "<th>") {
			out = append(out, text(m[1]))
		}
	}
	return out
}

func web(replicas, floor int32, load float64, inFloor bool) []scaler.Published {
	p := scaler.Published{Namespace: "storefront", Name: "web", Replicas: i32(replicas), Load: f64(load), Floor: inFloor}
	if inFloor {
		p.FloorReplicas = i32(floor)
	}
	return []scaler.Published{p}
}

func TestCalendarListsComingWindowsWithFloorLeadAndCooldown(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	p := newPage(t, now, web(20, 0, 1000, false), 20)
	code, hdr, body := get(t, p, "/calendar")
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, content type %q", code, hdr.Get("Content-Type"))
	}
	sec := table(t, section(t, body, "storefront/web"), "coming")
	// 6 December is excepted; 5x of the usual 1000 at 50 per replica is
	// 100 replicas, 2x is 40.
	// Without ?days the list reaches the next occurrence of every window:
	// the newsletter's next one is 13 December.
	want := []string{
		"tf1-prime-spot pre-scale Thu 10 Dec 20:37 CET 8m Thu 10 Dec 20:45 – 21:00 CET 100 10m Thu 10 Dec 21:19 CET",
		"sunday-newsletter pre-scale Sun 13 Dec 09:52 CET 8m Sun 13 Dec 10:00 – 11:00 CET 40 10m Sun 13 Dec 11:14 CET",
	}
	if got := rows(sec); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sec = section(t, body, "storefront/web")
	if !strings.Contains(text(sec), "Now: no window — primetime asks for 20 replicas") {
		t.Errorf("state: %s", text(sec))
	}
	if !strings.Contains(text(sec), "Floors of windows like 5x are shown for the usual load 1000; each one is fixed when its pre-scaling starts.") {
		t.Errorf("baseline note missing: %s", text(sec))
	}

	// ?days=9 stops before the newsletter.
	_, _, body = get(t, p, "/calendar?days=9")
	got := rows(table(t, section(t, body, "storefront/web"), "coming"))
	if strings.Join(got, "\n") != want[0] {
		t.Errorf("9 days:\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(body, "windows listed until Fri 11 Dec 2026 15:00 UTC.") {
		t.Errorf("the end of the list is not said:\n%s", body)
	}
}

func TestCalendarStateFollowsTheSpot(t *testing.T) {
	cases := []struct {
		name   string
		wall   string
		board  []scaler.Published
		ready  int32
		state  string
		detail string
	}{
		{"a day before", "2026-12-09 20:45", web(20, 0, 1000, false), 20, "no window", ""},
		{"pre-scaling", "2026-12-10 20:40", web(100, 100, 1000, true), 17, "pre-scaling", "tf1-prime-spot on air in 5m (20:45 CET); ready 17 / floor 100"},
		{"pre-scaling, no board yet", "2026-12-10 20:38", nil, 5, "pre-scaling", "tf1-prime-spot on air in 7m (20:45 CET); ready 5 / floor ?"},
		{"on air", "2026-12-10 20:50", web(100, 100, 4000, true), 100, "on air", "tf1-prime-spot until 21:00 CET; ready 100 / floor 100"},
		{"cooldown", "2026-12-10 21:05", web(100, 100, 2000, true), 100, "cooldown", "tf1-prime-spot ended at 21:00; capacity held until 21:10 CET at the latest; ready 100 / floor 100"},
		{"stepping down", "2026-12-10 21:12", web(85, 85, 1000, true), 100, "stepping down", "tf1-prime-spot is over; capacity is being given back; ready 100 / floor 85"},
		{"over", "2026-12-10 22:30", web(20, 0, 1000, false), 20, "no window", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now, err := config.ParseTime(tc.wall, paris)
			if err != nil {
				t.Fatal(err)
			}
			_, _, body := get(t, newPage(t, now, tc.board, tc.ready), "/calendar")
			sec := section(t, body, "storefront/web")
			m := stateRE.FindStringSubmatch(sec)
			if m == nil || m[1] != tc.state {
				t.Fatalf("state %v, want %q:\n%s", m, tc.state, sec)
			}
			var detail string
			if i := strings.Index(sec, `<span class="detail">`); i >= 0 {
				detail = text(sec[i : i+strings.Index(sec[i:], "</span>")])
			}
			if detail != tc.detail {
				t.Errorf("detail %q, want %q", detail, tc.detail)
			}
		})
	}
}

func TestCalendarListsPastWindows(t *testing.T) {
	now := time.Date(2026, 12, 11, 9, 0, 0, 0, paris)
	_, _, body := get(t, newPage(t, now, web(20, 0, 1000, false), 20), "/calendar")
	sec := section(t, body, "storefront/web")
	i := strings.Index(sec, `<table class="past">`)
	if i < 0 {
		t.Fatalf("no past windows:\n%s", sec)
	}
	// The newsletter of 6 December was excepted: not listed.
	want := []string{"tf1-prime-spot Thu 10 Dec 20:45 – 21:00 CET 5x no report yet"}
	if got := rows(sec[i:]); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("past:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCalendarChecksAPaste(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	cases := []struct {
		name     string
		paste    string
		code     int
		verdict  string
		problems []string
		lines    []string
		plan     []string
	}{
		{"a bad entry and a good one",
			"timezone: Europe/Paris\nwindows:\n  - name: tf1-spot\n    start: \"2026-12-12 20:45\"\n    duration: 15 minutes\n    expect: 5x\n    targets: [storefront/web]\n  - name: m6-spot\n    start: \"2026-12-12 21:30\"\n    duration: 15m\n    expect: 3x\n    targets: [storefront/wbe, storefront/web]\n",
			http.StatusOK, "1 problem: a window with an error is ignored until it is fixed; the others apply.",
			[]string{
				`pasted:5: window "tf1-spot": duration: "15 minutes" is not a duration; write it like 90s, 15m, 1h30m or 7d`,
				`pasted:8: warning: window "m6-spot": targets: storefront/wbe selects no target; did you mean storefront/web?`,
			},
			[]string{"5", "8"},
			[]string{"m6-spot pre-scale Sat 12 Dec 21:22 CET 8m Sat 12 Dec 21:30 – 21:45 CET 60 10m Sat 12 Dec 22:01 CET"}},
		{"a spot during the newsletter in force",
			"timezone: Europe/Paris\nwindows:\n  - name: sunday-spot\n    start: \"2026-12-13 10:30\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n",
			http.StatusOK, "No error; 1 warning: the windows apply, but check these.",
			[]string{`pasted:3: warning: window "sunday-spot": expect: 5x overlaps window "sunday-newsletter" (2x) on storefront/web from 2026-12-13 10:30 to 10:45 CET: the higher floor wins there; give both the same multiplier or move one`},
			[]string{"3"},
			[]string{"sunday-spot pre-scale Sun 13 Dec 10:22 CET 8m Sun 13 Dec 10:30 – 10:45 CET 100 10m Sun 13 Dec 11:04 CET"}},
		{"a misspelt timezone, once",
			"timezone: Europe/Pariss\nwindows:\n  - name: a\n    start: \"2026-12-12 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n  - name: b\n    start: \"2026-12-13 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n",
			http.StatusOK, "1 problem: a window with an error is ignored until it is fixed; the others apply.",
			[]string{`pasted:1: timezone: unknown time zone "Europe/Pariss"; use an IANA name such as Europe/Paris, America/New_York or UTC; the 2 windows without a timezone of their own are rejected until this is fixed`},
			[]string{"1"}, nil},
		{"a window in the past",
			"windows:\n  - name: old\n    start: \"2026-11-25 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n",
			http.StatusOK, "No error; 1 warning: the windows apply, but check these.",
			[]string{`pasted:2: warning: window "old": start: the window ended at 2026-11-25 21:00 UTC, before now: it will never apply; remove it or fix its date`},
			[]string{"2"}, nil},
		{"a good file",
			"windows:\n  - name: sale\n    cron: \"0 8 * * SAT\"\n    except: [\"2026-12-05\"]\n    duration: 1h\n    replicas: 40\n    targets: [storefront/web]\n",
			http.StatusOK, "ok: 1 window, no problem.", nil, nil,
			[]string{"sale pre-scale Sat 12 Dec 07:52 UTC 8m Sat 12 Dec 08:00 – 09:00 UTC 40 10m Sat 12 Dec 09:14 UTC"}},
		{"garbage",
			"\x00\x01 this is { not yaml: [",
			http.StatusOK, "1 problem: a window with an error is ignored until it is fixed; the others apply.", nil, nil, nil},
		{"prose",
			"Hello, please scale the site on Friday",
			http.StatusOK, "1 problem: a window with an error is ignored until it is fixed; the others apply.",
			nil, nil, nil},
		{"nothing",
			"   \n", http.StatusOK, "", nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, newPage(t, now, web(20, 0, 1000, false), 20), tc.paste)
			if code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			check := section(t, body, "check")
			if tc.verdict == "" {
				if !strings.Contains(text(check), "Nothing was pasted.") {
					t.Errorf("empty paste: %s", text(check))
				}
				return
			}
			if i := strings.Index(check, `id="verdict"`); i < 0 || !strings.HasPrefix(text(check[i+strings.Index(check[i:], ">")+1:]), tc.verdict) {
				t.Errorf("verdict: want %q in %s", tc.verdict, text(check))
			}
			if tc.problems != nil {
				var got, lines []string
				for _, m := range regexp.MustCompile(`(?s)<li class="problem [a-z]+" data-line="(\d+)">(.*?)</li>`).FindAllStringSubmatch(check, -1) {
					lines = append(lines, m[1])
					got = append(got, text(m[2]))
				}
				if strings.Join(got, "\n") != strings.Join(tc.problems, "\n") || strings.Join(lines, ",") != strings.Join(tc.lines, ",") {
					t.Errorf("problems (lines %v):\n%s\nwant (lines %v):\n%s", lines, strings.Join(got, "\n"), tc.lines, strings.Join(tc.problems, "\n"))
				}
			}
			var plan []string
			if strings.Contains(check, `<table class="coming">`) {
				plan = rows(table(t, check, "coming"))
			}
			if strings.Join(plan, "\n") != strings.Join(tc.plan, "\n") {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(plan, "\n"), strings.Join(tc.plan, "\n"))
			}
			// The paste comes back in the box, escaped, to be fixed.
			if !strings.Contains(body, `name="windows" rows="16" spellcheck="false">`) {
				t.Errorf("no box")
			}
		})
	}
}

func TestCalendarPasteIsEscapedAndNotStored(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	p := newPage(t, now, nil, 0)
	paste := "windows:\n  - name: \"<script>alert(1)</script>\"\n    start: \"2026-12-12 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n</textarea><img src=x>\n"
	_, body := post(t, p, paste)
	if strings.Contains(body, "<script>") || strings.Contains(body, "<img") || strings.Contains(body, "</textarea><img") {
		t.Fatalf("the paste reached the page unescaped:\n%s", body)
	}
	// A later GET knows nothing of it.
	_, _, after := get(t, p, "/calendar")
	if strings.Contains(after, "alert(1)") || strings.Contains(after, `id="check"`) {
		t.Errorf("the paste was kept:\n%s", after)
	}
}

func TestCalendarRefusesAHugePaste(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	huge := "windows:\n" + strings.Repeat("  - name: spot\n    start: \"2026-12-12 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n", MaxPaste/80)
	code, body := post(t, newPage(t, now, nil, 0), huge)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", code)
	}
	if !strings.Contains(body, `<p class="error" id="paste-error">The paste is larger than 1024 KiB, the most one ConfigMap holds: paste one windows file.</p>`) {
		t.Errorf("body:\n%s", body)
	}
}

func TestCalendarPasteOfManyFrequentWindowsStaysFast(t *testing.T) {
	now := time.Date(2026, 12, 2, 16, 0, 0, 0, paris)
	var b strings.Builder
	b.WriteString("windows:\n")
	for i := range 200 {
		b.WriteString("  - name: every-minute-" + strconvItoa(i) + "\n    cron: \"* * * * *\"\n    duration: 1m\n    expect: 2x\n    targets: [\"*\"]\n")
	}
	start := time.Now()
	code, body := post(t, newPage(t, now, web(20, 0, 1000, false), 20), b.String())
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a paste of 200 windows every minute took %s", d)
	}
	if !strings.Contains(body, `<p class="muted cut">More than 200 windows in this period: the list stops at Wed 2 Dec 15:01 UTC; run primetime plan for the rest.</p>`) {
		t.Errorf("the cut is not said:\n%s", text(section(t, body, "check")))
	}
}

func strconvItoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + itoa(i)) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestCalendarIsReadOnlyAndSelfContained(t *testing.T) {
	now := time.Date(2026, 12, 10, 20, 40, 0, 0, paris)
	p := newPage(t, now, web(100, 100, 1000, true), 17)
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(m, "/calendar", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, POST" {
			t.Errorf("%s: status %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
	for _, d := range []string{"0", "32", "seven"} {
		if code, _, body := get(t, p, "/calendar?days="+d); code != http.StatusBadRequest || strings.TrimSpace(body) != `days must be a whole number from 1 to 31, got "`+d+`"` {
			t.Errorf("days=%s: %d %q", d, code, body)
		}
	}
	_, hdr, body := get(t, p, "/calendar")
	if csp := hdr.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'" {
		t.Errorf("CSP %q", csp)
	}
	for _, bad := range []string{"<script", "http://", "https://", " src=", "<link", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q: it must need nothing outside itself", bad)
		}
	}
}

func TestCalendarWithoutConfiguration(t *testing.T) {
	p := &Page{Clock: func() time.Time { return time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC) }}
	code, _, body := get(t, p, "/calendar")
	if code != http.StatusOK || !strings.Contains(body, "No targets yet: the SREs add them in ConfigMaps labelled primetime.dev/targets.") {
		t.Errorf("%d:\n%s", code, body)
	}
	_, body = post(t, p, "windows:\n  - name: a\n    start: \"2026-12-12 20:45\"\n    duration: 15m\n    expect: 5x\n    targets: [storefront/web]\n")
	if !strings.Contains(text(body), "ok: 1 window, no problem. None of the pasted windows selects a target primetime knows.") {
		t.Errorf("paste without targets:\n%s", text(section(t, body, "check")))
	}
}

var _ = io.EOF

func TestCalendarShowsLocalTimesAcrossDST(t *testing.T) {
	// The newsletter on the Sunday the clocks go forward (29 March 2026)
	// is at 10:00 CEST, the week before at 10:00 CET.
	now := time.Date(2026, 3, 21, 12, 0, 0, 0, paris)
	_, _, body := get(t, newPage(t, now, web(20, 0, 1000, false), 20), "/calendar?days=9")
	want := []string{
		"sunday-newsletter pre-scale Sun 22 Mar 09:52 CET 8m Sun 22 Mar 10:00 – 11:00 CET 40 10m Sun 22 Mar 11:14 CET",
		"sunday-newsletter pre-scale Sun 29 Mar 09:52 CEST 8m Sun 29 Mar 10:00 – 11:00 CEST 40 10m Sun 29 Mar 11:14 CEST",
	}
	if got := rows(table(t, section(t, body, "storefront/web"), "coming")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCalendarBoundsTheTargetsShown(t *testing.T) {
	var b strings.Builder
	b.WriteString("targets:\n")
	for i := range MaxTargets + 5 {
		ns := "shop"
		if i%2 == 0 {
			ns = "blog"
		}
		b.WriteString("  - name: t" + itoa(i) + "\n    namespace: " + ns + "\n    scaleTargetRef: {kind: Deployment, name: w}\n    load: {prometheus: 'x'}\n    capacityPerReplica: 50\n    minReplicas: 2\n    maxReplicas: 300\n")
	}
	res := config.ParseFile("targets.yaml", []byte(b.String()))
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	p := &Page{Config: fixedConfig{&ground.Snapshot{Targets: res.Targets}}, Clock: func() time.Time { return time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC) }}
	_, _, body := get(t, p, "/calendar")
	if n := strings.Count(body, `<section class="target"`); n != MaxTargets {
		t.Errorf("%d targets shown, want %d", n, MaxTargets)
	}
	if !strings.Contains(body, `<p class="muted" id="targets-more">and 5 more targets: add ?namespace=NAME to the address to see one namespace.</p>`) {
		t.Errorf("the rest is not counted")
	}
	_, _, body = get(t, p, "/calendar?namespace=blog")
	if n := strings.Count(body, `<section class="target" id="blog/`); n != (MaxTargets+5+1)/2 || strings.Contains(body, `id="shop/`) {
		t.Errorf("namespace=blog: %d blog targets", n)
	}
}

// TestCalendarShowsReportsAndLearnedMultipliers: a past window shows its
// report, and a coming "expect: learned" window its learned multiplier,
// the reports it comes from, and the floor it makes.
func TestCalendarShowsReportsAndLearnedMultipliers(t *testing.T) {
	now := time.Date(2026, 12, 11, 9, 0, 0, 0, paris)
	p := newPage(t, now, web(20, 0, 1000, false), 20)
	res := &config.Result{}
	res.Merge(config.ParseFile("targets.yaml", []byte(testTargets)))
	res.Merge(config.ParseFile("windows.yaml", []byte(testWindows+`  - name: tf1-saturday-spot
    group: tf1-prime
    start: "2026-12-12 20:50"
    duration: 10m
    expect: learned
    initially: 5x
    targets: [storefront/web]
`)))
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	p.Config = fixedConfig{&ground.Snapshot{Targets: res.Targets, Windows: res.Windows}}
	spot := time.Date(2026, 12, 10, 20, 45, 0, 0, paris)
	const sentence = "tf1-prime-spot on Thu 10 Dec 20:45: storefront/web peaked at 3.0x its usual load (3000 for 1000) 1 min after the start (expected 5x), half gone 4 min later; the window added 27.93 replica-hours over tracking"
	book := &scaler.ReportBook{}
	book.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "tf1-prime-spot", File: "windows.yaml", Start: spot, Sentence: sentence, Ratio: 3, Expected: 5}})
	book.Advise(ground.TargetKey{Namespace: "storefront", Name: "web"}, "tf1-prime-spot", spot, 41*time.Second, 9*time.Minute+30*time.Second)
	p.Reports = book
	p.Learned = func(w *ground.Window, tg *ground.Target) (policies.Learned, bool) {
		if w.LearningGroup() != "tf1-prime" || tg.Name != "web" {
			return policies.Learned{}, false
		}
		return policies.Learned{Multiplier: 3.3, From: []policies.Lesson{{Window: "tf1-prime-spot", Start: spot, Ratio: 3}}}, true
	}
	_, _, body := get(t, p, "/calendar")
	sec := section(t, body, "storefront/web")
	i := strings.Index(sec, `<table class="past">`)
	if i < 0 {
		t.Fatalf("no past windows:\n%s", sec)
	}
	if got, want := rows(sec[i:]), "tf1-prime-spot Thu 10 Dec 20:45 – 21:00 CET 5x "+sentence; len(got) != 1 || got[0] != want {
		t.Errorf("past:\n%q\nwant:\n%q", got, want)
	}
	if want := `<p class="advice">tf1-prime-spot on Thu 10 Dec 19:45 UTC was ready 41s late: a leadTime of 9m30s (now 8m) would have had it ready in time.</p>`; !strings.Contains(sec, want) {
		t.Errorf("no lead time advice %q in:\n%s", want, sec)
	}
	coming := rows(sec[:i])
	want := "tf1-saturday-spot (learned 3.3x from 1 report: Thu 10 Dec 3.0x) pre-scale Sat 12 Dec 20:42 CET 8m Sat 12 Dec 20:50 – 21:00 CET 66"
	found := false
	for _, r := range coming {
		if strings.HasPrefix(r, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("coming:\n%s\nwant a row starting %q", strings.Join(coming, "\n"), want)
	}
}

// TestCalendarShowsLearnedShapes: a coming "shape: learned" window says
// the shape its group's reports show, or that it is held flat until the
// group has 3 reports.
func TestCalendarShowsLearnedShapes(t *testing.T) {
	now := time.Date(2026, 12, 11, 9, 0, 0, 0, paris)
	spot := time.Date(2026, 12, 10, 20, 45, 0, 0, paris)
	for _, tc := range []struct {
		name    string
		lessons []policies.Lesson
		want    string
	}{
		{"one report", []policies.Lesson{{Window: "a", Start: spot, Ratio: 3, PeakAfter: 40 * time.Second}},
			"tf1-saturday-spot (shape of group tf1-prime: held flat, 1 of the 3 reports a learned shape needs) pre-scale"},
		{"three reports", []policies.Lesson{
			{Window: "a", Start: spot.AddDate(0, 0, -2), Ratio: 3, PeakAfter: 40 * time.Second, HalfDecay: 3 * time.Minute},
			{Window: "b", Start: spot.AddDate(0, 0, -1), Ratio: 3.5, PeakAfter: 30 * time.Second, HalfDecay: 2 * time.Minute},
			{Window: "c", Start: spot, Ratio: 2.8, PeakAfter: 35 * time.Second, HalfDecay: 150 * time.Second},
		}, "tf1-saturday-spot (shape of group tf1-prime, 3 reports: peak at +40 s, half-decay 3 min, no second wave; the floor follows the load down from +40 s, once it is read below its peak) pre-scale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t, now, web(20, 0, 1000, false), 20)
			res := &config.Result{}
			res.Merge(config.ParseFile("targets.yaml", []byte(testTargets)))
			res.Merge(config.ParseFile("windows.yaml", []byte(testWindows+`  - name: tf1-saturday-spot
    group: tf1-prime
    start: "2026-12-12 20:50"
    duration: 10m
    expect: 4x
    shape: learned
    targets: [storefront/web]
`)))
			if len(res.Problems) > 0 {
				t.Fatal(res.Problems)
			}
			p.Config = fixedConfig{&ground.Snapshot{Targets: res.Targets, Windows: res.Windows}}
			p.Learned = func(w *ground.Window, tg *ground.Target) (policies.Learned, bool) {
				if w.LearningGroup() != "tf1-prime" || tg.Name != "web" {
					return policies.Learned{}, false
				}
				return policies.Learned{Multiplier: 3.9, From: tc.lessons}, true
			}
			_, _, body := get(t, p, "/calendar")
			for _, r := range rows(section(t, body, "storefront/web")) {
				if strings.HasPrefix(html.UnescapeString(r), tc.want) {
					return
				}
			}
			t.Errorf("no coming row starting %q in:\n%s", tc.want, section(t, body, "storefront/web"))
		})
	}
}
