//go:build !simulateonly

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	reportTargets = "testdata/report-targets.yaml"
	reportWindows = "testdata/report-windows.yaml"
)

// spotStart is tf1-spot's start in testdata/report-windows.yaml:
// 2026-11-25 20:45 Europe/Paris.
var spotStart = time.Date(2026, 11, 25, 19, 45, 0, 0, time.UTC)

// spotLoad is the hand-built load of storefront/web: 100 req/s, a spot
// that jumps to 300 one minute after the window's start and falls back
// by 20 every 15 s (200, half way back, 75 s after the peak; 100 again
// 2 min 30 s after it).
func spotLoad(t time.Time) float64 {
	peak := spotStart.Add(time.Minute)
	if t.Before(peak) {
		return 100
	}
	return max(100, 300-20*t.Sub(peak).Seconds()/15)
}

// dailySpotLoad is spotLoad every evening: the spot one minute after
// 20:45 Paris (19:45 UTC), whatever the day.
func dailySpotLoad(t time.Time) float64 {
	u := t.UTC()
	start := time.Date(u.Year(), u.Month(), u.Day(), 19, 45, 0, 0, time.UTC)
	return spotLoad(t.Add(spotStart.Sub(start)))
}

// fakePrometheus answers query_range with load at every step (no series
// when load is nil), or with a server error when fail is set; it records
// the ranges asked.
type fakePrometheus struct {
	load func(time.Time) float64
	fail bool

	mu     sync.Mutex
	ranges []string
}

func (p *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/api/v1/query_range" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"status":"error","errorType":"not_found","error":"not found"}`)
		return
	}
	sec := func(name string) time.Time {
		f, _ := strconv.ParseFloat(r.FormValue(name), 64)
		return time.Unix(0, int64(f*1e9)).UTC()
	}
	from, to := sec("start"), sec("end")
	step, _ := strconv.ParseFloat(r.FormValue("step"), 64)
	p.mu.Lock()
	p.ranges = append(p.ranges, fmt.Sprintf("%s %s..%s step %gs", r.FormValue("query"), from.Format(time.RFC3339), to.Format(time.RFC3339), step))
	p.mu.Unlock()
	if p.fail {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"status":"error","errorType":"internal","error":"out of memory"}`)
		return
	}
	if p.load == nil {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
		return
	}
	var values []string
	for t := from; !t.After(to); t = t.Add(time.Duration(step * float64(time.Second))) {
		values = append(values, fmt.Sprintf("[%d,\"%g\"]", t.Unix(), p.load(t)))
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(values, ","))
}

// fakeDatadog answers Datadog's v1 query API (GET /api/v1/query, from
// and to in seconds) with one series of 30 s buckets of load, each
// bucket's value that of its end; it records the ranges asked.
type fakeDatadog struct {
	load func(time.Time) float64

	mu     sync.Mutex
	ranges []string
}

func (d *fakeDatadog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
	d.mu.Lock()
	d.ranges = append(d.ranges, fmt.Sprintf("%s %s..%s", q.Get("query"), time.Unix(from, 0).UTC().Format(time.RFC3339), time.Unix(to, 0).UTC().Format(time.RFC3339)))
	d.mu.Unlock()
	var points [][]float64
	for ts := from - from%30; ts <= to; ts += 30 {
		points = append(points, []float64{float64(ts * 1000), d.load(time.Unix(ts+30, 0))})
	}
	body, _ := json.Marshal(map[string]any{
		"status": "ok", "res_type": "time_series", "from_date": from * 1000, "to_date": to * 1000, "query": q.Get("query"),
		"series": []map[string]any{{"metric": "trace.http.request.hits", "expression": q.Get("query"), "scope": "service:web",
			"interval": 30, "length": len(points), "pointlist": points, "query_index": 0}},
	})
	_, _ = w.Write(body)
}

// withReportNow pins report's clock.
func withReportNow(t *testing.T, now time.Time) {
	t.Helper()
	prev := reportNow
	reportNow = func() time.Time { return now }
	t.Cleanup(func() { reportNow = prev })
}

// reportArgs are the command line of the tests' report, over the two
// windows of testdata/report-windows.yaml.
func reportArgs(url string, more ...string) []string {
	return append([]string{"report", "--targets", reportTargets, "--windows", reportWindows,
		"--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00", "--prometheus-url", url}, more...)
}

// The hand-computed reports of testdata/report-windows.yaml over
// spotLoad (capacityPerReplica 10, minReplicas 2, leadTime 5m):
//
// tf1-spot (20:45 Paris, 15m, 5x): the baseline is the 100 seen before the
// floor, so the floor is ceil(5 × 100 / 10) = 50 from 20:40. The peak, 300
// at 20:46:00, is 3.0x, 1 min after the start; the load is back to 200
// (halfway to 100) at 20:47:15, 1 min 15 s later. The traffic has arrived
// (300 is more than a third of the way to 500) and passed its peak, but
// the floor is held to the window's end (a second wave may come); in the
// cooldown it follows the load with 25% headroom, ceil(1.25 × 100 / 10) =
// 13, and it is released at 21:10, the load back at its baseline. A
// report counts each cycle after the first (every 15 s) at the floor
// minus tracking (ceil(load / 10)): 23 cycles at 50 − 10 from 20:40:15 to
// 20:45:45 (920), 50 − 30, 28, ..., 12 from 20:46:00 to 20:48:15 (290),
// 46 cycles at 50 − 10 to 20:59:45 (1840), 40 at 13 − 10 in the cooldown
// (120): 3170 replica-cycles of 15 s = 13.208333 replica-hours.
//
// night-cap (02:00 Paris, 1h, quiet, replicas 4): tracking is 10, the cap
// 4, from 02:00 until it is lifted one lead time (5m) before the end, at
// 02:55: 219 cycles of 15 s after the first, 6 replicas each: 19,710
// replica-seconds = 5.475 replica-hours.
const (
	spotSentence  = "tf1-spot on Wed 25 Nov 20:45: storefront/web peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 5x), half gone 1 min 15 s later; the window added 13.21 replica-hours over tracking"
	quietSentence = "night-cap on Thu 26 Nov 02:00: storefront/web was capped; the quiet window saved 5.48 replica-hours"
	spotAdded     = 3170 * 15.0 / 3600
	quietSaved    = 219 * 6 * 15.0 / 3600
)

func TestReportSentences(t *testing.T) {
	for _, tc := range []struct {
		name     string
		targets  string
		windows  string
		load     func(time.Time) float64
		datadog  bool
		now      time.Time
		from, to string
		want     []string
		stderr   string
		ranges   []string
	}{{
		name: "a spot at 3x of an expected 5x, and a quiet night",
		now:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from: "2026-11-25 00:00", to: "2026-11-27 00:00",
		want: []string{spotSentence, quietSentence},
		// From an hour before the floor (20:40 Paris) to the end of
		// cooldown and the longest step-down (21:00 + 10m + 64m + 1m).
		ranges: []string{
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-25T18:40:00Z..2026-11-25T21:15:00Z step 15s`,
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-26T00:00:00Z..2026-11-26T03:15:00Z step 15s`,
		},
	}, {
		name: "only the occurrences that start between --from and --to",
		now:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from: "2026-11-26T00:00:00+01:00", to: "2026-11-26T12:00:00+01:00",
		want:   []string{quietSentence},
		ranges: []string{`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-26T00:00:00Z..2026-11-26T03:15:00Z step 15s`},
	}, {
		name: "a spot not over yet has no report",
		now:  time.Date(2026, 11, 25, 20, 5, 0, 0, time.UTC),
		from: "2026-11-25 00:00", to: "2026-11-25 23:00",
		stderr: "storefront/web: tf1-spot on 2026-11-25 20:45 CET: not over by 2026-11-25 21:05 CET, no report yet\n",
		ranges: []string{`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-25T18:40:00Z..2026-11-25T20:05:00Z step 15s`},
	}, {
		name: "no window in the range",
		now:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from: "2026-11-20 00:00", to: "2026-11-21 00:00",
		stderr: "no window of the targets starts between 2026-11-20 00:00 UTC and 2026-11-21 00:00 UTC\n",
	}, {
		name:    "a target with a forecast reads the past season too",
		targets: "testdata/report-forecast-targets.yaml",
		now:     time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from:    "2026-11-25 00:00", to: "2026-11-25 23:00",
		want: []string{spotSentence},
		// The day before (seasonality 24h), up to the forecast's horizon
		// (1h and the lead time) after the replay, with the forecast's
		// tolerance (5m) on each side; clusters: [eu] is reported too.
		ranges: []string{
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-25T18:40:00Z..2026-11-25T21:15:00Z step 15s`,
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-24T18:35:00Z..2026-11-24T22:25:00Z step 15s`,
		},
	}, {
		// Datadog's 30 s buckets are seen at their end: 300 at 20:46:00,
		// 260 at 20:46:30, 220 at 20:47:00, 180 (under 200) at 20:47:30,
		// 1 min 30 s after the peak. Each value stands for two cycles:
		// 920 replica-cycles before the spike as with Prometheus, then
		// 2 × (20 + 24 + 28 + 32 + 36) = 280 to 20:48:15, 1840 to the end
		// and 120 in the cooldown as with Prometheus: 3160 replica-cycles
		// of 15 s, 13.17 replica-hours.
		name:    "a Datadog target",
		targets: "testdata/report-datadog-targets.yaml", datadog: true,
		now:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from: "2026-11-25 00:00", to: "2026-11-25 23:00",
		want:   []string{"tf1-spot on Wed 25 Nov 20:45: storefront/web peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 5x), half gone 1 min 30 s later; the window added 13.17 replica-hours over tracking"},
		ranges: []string{`sum:trace.http.request.hits{service:web}.as_rate().rollup(avg,30) 2026-11-25T18:40:00Z..2026-11-25T21:15:00Z`},
	}, {
		// The same spot two evenings running, "expect: learned" with
		// "initially: 5x": the first is 5x, the second learns from the
		// first's report (3.0x, and 10% headroom): 3.3x, a floor of
		// ceil(3.3 × 100 / 10) = 33, held to the end as on the first
		// evening: 23 × (33 − 10) = 529 before the spike, 330 − 210 = 120
		// in it, 46 × 23 = 1058 to the end, 40 × 3 = 120 in the cooldown:
		// 1827 replica-cycles of 15 s, 7.61 replica-hours.
		name:    "a learned multiplier from the evening before",
		windows: "testdata/report-learned-windows.yaml", load: dailySpotLoad,
		now:  time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		from: "2026-11-25 00:00", to: "2026-11-27 00:00",
		want: []string{
			"tf1-evening on Wed 25 Nov 20:45: storefront/web peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 5x), half gone 1 min 15 s later; the window added 13.21 replica-hours over tracking",
			"tf1-evening on Thu 26 Nov 20:45: storefront/web peaked at 3.0x its usual load (300 for 100) 1 min after the start (expected 3.3x), half gone 1 min 15 s later; the window added 7.61 replica-hours over tracking",
		},
		ranges: []string{
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-25T18:40:00Z..2026-11-25T21:15:00Z step 15s`,
			`sum(rate(http_requests_total{app="web"}[1m])) 2026-11-26T18:40:00Z..2026-11-26T21:15:00Z step 15s`,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			withReportNow(t, tc.now)
			if tc.targets == "" {
				tc.targets = reportTargets
			}
			if tc.windows == "" {
				tc.windows = reportWindows
			}
			if tc.load == nil {
				tc.load = spotLoad
			}
			prom, dd := &fakePrometheus{load: tc.load}, &fakeDatadog{load: tc.load}
			var srv *httptest.Server
			args := []string{"report", "--targets", tc.targets, "--windows", tc.windows, "--from", tc.from, "--to", tc.to}
			if tc.datadog {
				srv = httptest.NewServer(dd)
				t.Setenv("DD_API_KEY", "api-key")
				t.Setenv("DD_APP_KEY", "app-key")
				args = append(args, "--datadog-url", srv.URL)
			} else {
				srv = httptest.NewServer(prom)
				args = append(args, "--prometheus-url", srv.URL)
			}
			defer srv.Close()
			code, out, errOut := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var lines []string
			if out != "" {
				lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			}
			if strings.Join(lines, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", out, strings.Join(tc.want, "\n"))
			}
			if errOut != tc.stderr {
				t.Errorf("stderr %q, want %q", errOut, tc.stderr)
			}
			asked := prom.ranges
			if tc.datadog {
				asked = dd.ranges
			}
			if strings.Join(asked, "\n") != strings.Join(tc.ranges, "\n") {
				t.Errorf("ranges asked:\n%s\nwant:\n%s", strings.Join(asked, "\n"), strings.Join(tc.ranges, "\n"))
			}
		})
	}
}

func TestReportJSON(t *testing.T) {
	withReportNow(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(&fakePrometheus{load: spotLoad})
	defer srv.Close()
	code, out, errOut := runCLI(t, reportArgs(srv.URL, "--output", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("want a JSON array of 2 reports (%v):\n%s", err, out)
	}
	for _, tc := range []struct {
		name   string
		report map[string]any
		want   map[string]any
	}{{
		name:   "tf1-spot",
		report: got[0],
		want: map[string]any{
			"window": "tf1-spot", "origin": "testdata/report-windows.yaml", "target": "storefront/web", "quiet": false, "learned": false,
			"start": "2026-11-25T20:45:00+01:00", "end": "2026-11-25T21:00:00+01:00", "released": "2026-11-25T21:10:00+01:00",
			"baseline": 100.0, "peak": 300.0, "peakAt": "2026-11-25T20:46:00+01:00", "ratio": 3.0, "expected": 5.0,
			"timeToPeakSeconds": 60.0, "halfDecaySeconds": 75.0, "floorAtStart": 50.0,
			"replicasAtStart": nil, "underCapacitySeconds": nil, "excess": nil,
			"addedReplicaHours": spotAdded, "savedReplicaHours": 0.0, "sentence": spotSentence,
		},
	}, {
		name:   "night-cap",
		report: got[1],
		want: map[string]any{
			"window": "night-cap", "origin": "testdata/report-windows.yaml", "target": "storefront/web", "quiet": true, "learned": false,
			"start": "2026-11-26T02:00:00+01:00", "end": "2026-11-26T03:00:00+01:00", "released": "2026-11-26T02:55:00+01:00",
			"baseline": nil, "peak": nil, "peakAt": nil, "ratio": nil, "expected": nil,
			"timeToPeakSeconds": nil, "halfDecaySeconds": nil, "floorAtStart": nil,
			"replicasAtStart": nil, "underCapacitySeconds": nil, "excess": nil,
			"addedReplicaHours": 0.0, "savedReplicaHours": quietSaved, "sentence": quietSentence,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			for k, want := range tc.want {
				v, ok := tc.report[k]
				if !ok {
					t.Errorf("%s: missing", k)
					continue
				}
				if w, isNum := want.(float64); isNum {
					if g, _ := v.(float64); math.Abs(g-w) > 1e-9 {
						t.Errorf("%s = %v, want %v", k, v, want)
					}
				} else if v != want {
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
			if len(tc.report) != len(tc.want) {
				t.Errorf("%d fields, want %d: %v", len(tc.report), len(tc.want), tc.report)
			}
		})
	}
}

func TestReportErrors(t *testing.T) {
	withReportNow(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	ok := httptest.NewServer(&fakePrometheus{load: spotLoad})
	defer ok.Close()
	failing := httptest.NewServer(&fakePrometheus{load: spotLoad, fail: true})
	defer failing.Close()
	empty := httptest.NewServer(&fakePrometheus{})
	defer empty.Close()
	datadogDown := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":["Forbidden"]}`)
	}))
	defer datadogDown.Close()
	base := func(url string) []string {
		return []string{"report", "--targets", reportTargets, "--windows", reportWindows, "--prometheus-url", url}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{{
		name:   "unparsable --from",
		args:   append(base(ok.URL), "--from", "yesterday", "--to", "2026-11-27 00:00"),
		code:   2,
		stderr: "primetime: --from: \"yesterday\" is not a date and time; write it like \"2026-11-25 20:45\" (in the window's time zone) or as RFC 3339\n",
	}, {
		name:   "unparsable --to",
		args:   append(base(ok.URL), "--from", "2026-11-25 00:00", "--to", "25/11/2026"),
		code:   2,
		stderr: "primetime: --to: \"25/11/2026\" is not a date and time; write it like \"2026-11-25 20:45\" (in the window's time zone) or as RFC 3339\n",
	}, {
		name:   "--to before --from",
		args:   append(base(ok.URL), "--from", "2026-11-27 00:00", "--to", "2026-11-25 00:00"),
		code:   2,
		stderr: "primetime: --to must be after --from\n",
	}, {
		name:   "no --from",
		args:   append(base(ok.URL), "--to", "2026-11-25 00:00"),
		code:   2,
		stderr: "primetime: required flag(s) \"from\" not set\n",
	}, {
		name:   "unknown --output",
		args:   append(base(ok.URL), "--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00", "--output", "yaml"),
		code:   2,
		stderr: "primetime: --output must be text or json, got \"yaml\"\n",
	}, {
		name:   "no --prometheus-url for a Prometheus target",
		args:   []string{"report", "--targets", reportTargets, "--windows", reportWindows, "--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00"},
		code:   1,
		stderr: "storefront/web: its load is a Prometheus query: give --prometheus-url\n",
	}, {
		name: "a failing Prometheus names the target and the query",
		args: append(base(failing.URL), "--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00"),
		code: 1,
		stderr: "storefront/web: load history from 2026-11-25T18:40:00Z to 2026-11-25T21:15:00Z: " +
			`prometheus range query "sum(rate(http_requests_total{app=\"web\"}[1m]))": server_error: server error: 500` + "\n",
	}, {
		name:   "a query with no data over the span",
		args:   append(base(empty.URL), "--from", "2026-11-25 00:00", "--to", "2026-11-25 23:00"),
		code:   1,
		stderr: "storefront/web: no load history from 2026-11-25T18:40:00Z to 2026-11-25T21:15:00Z: the query returned no data\n",
	}, {
		name: "no DD_API_KEY for a Datadog target",
		args: []string{"report", "--targets", "testdata/report-datadog-targets.yaml", "--windows", reportWindows,
			"--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00"},
		env:    map[string]string{"DD_API_KEY": ""},
		code:   1,
		stderr: "storefront/web: its load is a Datadog query: set DD_API_KEY, DD_APP_KEY (and DD_SITE)\n",
	}, {
		name: "a failing Datadog names the target and the query",
		args: []string{"report", "--targets", "testdata/report-datadog-targets.yaml", "--windows", reportWindows,
			"--from", "2026-11-25 00:00", "--to", "2026-11-27 00:00", "--datadog-url", datadogDown.URL},
		env:  map[string]string{"DD_API_KEY": "k", "DD_APP_KEY": "a"},
		code: 1,
		stderr: "storefront/web: load history from 2026-11-25T18:40:00Z to 2026-11-25T21:15:00Z: " +
			`datadog query "sum:trace.http.request.hits{service:web}.as_rate()": datadog query API: HTTP 403: Forbidden` + "\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || errOut != tc.stderr {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr %q", code, errOut, tc.code, tc.stderr)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}
