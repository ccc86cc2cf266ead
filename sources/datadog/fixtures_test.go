package datadog

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The answers below follow, field for field, the shapes the v1 query API
// returns: the ones recorded in the test cassettes of Datadog's Go client
// (datadog-api-client-go, tests/scenarios/cassettes, "Query timeseries
// points" and the rate-limit scenarios) and the examples of Datadog's API
// documentation (GET /api/v1/query, "Rate limits"). The facts they carry
// are in /work/shared/notes/datadog.md; the values (timestamps, loads,
// error texts marked "ours") are made up for the tests.

// t0 is 2026-11-25 20:00:00 UTC, the "now" of every fixture.
var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

// fixture is one recorded-shape answer.
type fixture struct {
	status int
	// header holds the rate-limit headers as they arrive on the wire:
	// lower-case, as in the cassettes.
	header map[string]string
	body   string
}

// rateHeaders are the rate-limit headers of an answer of the query API,
// lower-case as recorded: x-ratelimit-limit 1600 per x-ratelimit-period
// 3600 s is the recorded budget of the metrics query endpoint; the name is
// ours.
func rateHeaders(limit, remaining, reset int) map[string]string {
	return map[string]string{
		"x-ratelimit-limit":     fmt.Sprint(limit),
		"x-ratelimit-period":    "3600",
		"x-ratelimit-remaining": fmt.Sprint(remaining),
		"x-ratelimit-reset":     fmt.Sprint(reset),
		"x-ratelimit-name":      "query",
	}
}

// write sends the fixture, keeping the headers' case on the wire.
func (f fixture) write(w http.ResponseWriter) {
	for k, v := range f.header {
		w.Header()[k] = []string{v}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	fmt.Fprint(w, f.body)
}

// pointlist returns [timestamp_ms, value] pairs every interval over
// [from, to), value(ts) each, "null" where value returns a negative number
// (a bucket no host reported in).
func pointlist(from, to time.Time, interval time.Duration, value func(ts time.Time) float64) (string, int) {
	var b strings.Builder
	n := 0
	for ts := from; ts.Before(to); ts = ts.Add(interval) {
		if n > 0 {
			b.WriteByte(',')
		}
		v := value(ts)
		if v < 0 {
			fmt.Fprintf(&b, "[%d.0,null]", ts.UnixMilli())
		} else {
			fmt.Fprintf(&b, "[%d.0,%g]", ts.UnixMilli(), v)
		}
		n++
	}
	return "[" + b.String() + "]", n
}

// seriesJSON is one element of "series", with every field a recorded
// answer holds (unit, tag_set, attributes included).
func seriesJSON(index int, query, scope string, from, to time.Time, interval time.Duration, value func(time.Time) float64) string {
	points, n := pointlist(from, to, interval, value)
	metric := query[strings.Index(query, ":")+1 : strings.Index(query, "{")]
	idx := ""
	if index >= 0 {
		idx = fmt.Sprintf(`"query_index":%d,`, index)
	}
	return fmt.Sprintf(`{"unit":[{"family":"network","scale_factor":1.0,"name":"request","short_name":"req","plural":"requests","id":19},null],`+
		`%s"aggr":"sum","metric":%q,"tag_set":[],"expression":%q,"scope":%q,"interval":%d,"length":%d,`+
		`"start":%d,"end":%d,"pointlist":%s,"display_name":%q,"attributes":{}}`,
		idx, metric, query, scope, int(interval/time.Second), n, from.UnixMilli(), to.Add(-time.Millisecond).UnixMilli(), points, metric)
}

// okBody is a 200 answer with status "ok" holding series.
func okBody(query string, from, to time.Time, series ...string) string {
	return fmt.Sprintf(`{"status":"ok","res_type":"time_series","resp_version":1,"query":%q,"from_date":%d,"to_date":%d,`+
		`"series":[%s],"values":[],"times":[],"message":"","group_by":[]}`,
		query, from.UnixMilli(), to.UnixMilli(), strings.Join(series, ","))
}

// lateBuckets is a load of full until the last half minute before t0,
// where buckets still fill (hosts report late): a sum over many hosts
// reads partial there.
func lateBuckets(full, partial float64) func(time.Time) float64 {
	return func(ts time.Time) float64 {
		if ts.Before(t0.Add(-30 * time.Second)) {
			return full
		}
		return partial
	}
}

// The 200 answers, one per interval the API picks when the query pins no
// rollup (recorded: 1 s for a 200 s window, 20 s for 51 minutes, 300 s for
// a day).
var (
	// interval 1: a 200 s window; the newest complete bucket is
	// [19:59:29, 19:59:30), the 30 after it are filling.
	fixtureInterval1 = fixture{http.StatusOK, rateHeaders(1600, 1432, 2400), okBody("sum:trace.http.request.hits{service:web}.as_count()",
		t0.Add(-200*time.Second), t0,
		seriesJSON(0, "sum:trace.http.request.hits{service:web}.as_count()", "service:web", t0.Add(-200*time.Second), t0, time.Second,
			func(ts time.Time) float64 {
				if ts.Equal(t0.Add(-31 * time.Second)) {
					return 41 // the newest complete bucket
				}
				return lateBuckets(40, 7)(ts)
			}))}
	// interval 20: a 51-minute window.
	fixtureInterval20 = fixture{http.StatusOK, rateHeaders(1600, 1431, 2399), okBody("avg:system.load.1{env:prod}",
		t0.Add(-51*time.Minute), t0,
		seriesJSON(0, "avg:system.load.1{env:prod}", "env:prod", t0.Add(-51*time.Minute), t0, 20*time.Second, lateBuckets(2.5, 0.4)))}
	// interval 300: a day; the bucket [19:50, 19:55) is the newest that
	// ended half a minute before the end, [19:55, 20:00) still fills.
	fixtureInterval300 = fixture{http.StatusOK, rateHeaders(1600, 1430, 2398), okBody("sum:trace.http.request.hits{service:web}.as_rate()",
		t0.Add(-24*time.Hour), t0,
		seriesJSON(0, "sum:trace.http.request.hits{service:web}.as_rate()", "service:web", t0.Add(-24*time.Hour), t0, 300*time.Second,
			func(ts time.Time) float64 {
				if ts.Before(t0.Add(-10 * time.Minute)) {
					return 1200
				}
				if ts.Before(t0.Add(-5 * time.Minute)) {
					return 1250
				}
				return 300 // [19:55, 20:00) still filling
			}))}
	// Several series for one query: "by {pod_name}" returns one per group,
	// all with the same query_index.
	fixtureGrouped = fixture{http.StatusOK, rateHeaders(1600, 1429, 2397), okBody("avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}",
		t0.Add(-5*time.Minute), t0,
		seriesJSON(0, "avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}", "kube_deployment:web,pod_name:web-7d9f-abcde", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(0.8, 0.8)),
		seriesJSON(0, "avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}", "kube_deployment:web,pod_name:web-7d9f-fghij", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(0.6, 0.6)),
		seriesJSON(0, "avg:kubernetes.cpu.usage.total{kube_deployment:web} by {pod_name}", "kube_deployment:web,pod_name:web-7d9f-klmno", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(0.7, 0.7)))}
	// An empty series list: the metric has no point in the window.
	fixtureEmpty = fixture{http.StatusOK, rateHeaders(1600, 1428, 2396), okBody("sum:checkout.orders{env:staging}.as_count()", t0.Add(-5*time.Minute), t0)}
	// Null points: buckets no host reported in come as [ts, null].
	fixtureNulls = fixture{http.StatusOK, rateHeaders(1600, 1427, 2395), okBody("avg:nginx.net.request_per_s{service:web}",
		t0.Add(-5*time.Minute), t0,
		seriesJSON(0, "avg:nginx.net.request_per_s{service:web}", "service:web", t0.Add(-5*time.Minute), t0, 30*time.Second,
			func(ts time.Time) float64 {
				if ts.Before(t0.Add(-2 * time.Minute)) {
					return 310
				}
				return -1 // null: nothing since 19:58
			}))}
	// A series without query_index, in a call of several queries.
	fixtureUnindexed = fixture{http.StatusOK, rateHeaders(1600, 1426, 2394), okBody("sum:a{*}.rollup(avg,30),sum:b{*}.rollup(avg,30)",
		t0.Add(-5*time.Minute), t0,
		seriesJSON(0, "sum:a{*}.rollup(avg,30)", "*", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(11, 11)),
		seriesJSON(-1, "sum:b{*}.rollup(avg,30)", "*", t0.Add(-5*time.Minute), t0, 30*time.Second, lateBuckets(12, 12)))}
	// A 200 with status "error": the body carries "error", no series.
	fixtureStatusError = fixture{http.StatusOK, rateHeaders(1600, 1425, 2393),
		fmt.Sprintf(`{"status":"error","res_type":"time_series","resp_version":1,"query":"sum:a{*}","from_date":%d,"to_date":%d,"series":[],"values":[],"times":[],"message":"","group_by":[],"error":"Internal error while evaluating the query, please retry"}`,
			t0.Add(-5*time.Minute).UnixMilli(), t0.UnixMilli())}
)

// The error answers: {"errors": ["..."]} with the rate-limit headers.
var (
	// 400, recorded: "Error parsing query ..." (the rest of the text is ours).
	fixture400 = fixture{http.StatusBadRequest, rateHeaders(1600, 1424, 2392), `{"errors":["Error parsing query: \n unable to parse sum:trace.http.request.hits{service:web}.rate_per_sec(): Rule 'scope_expr' didn't match at '.rate_per_sec()'"]}`}
	// 403, recorded: "Forbidden".
	fixture403 = fixture{http.StatusForbidden, rateHeaders(1600, 1423, 2391), `{"errors":["Forbidden"]}`}
	// 422: the documented error shape; the text is ours.
	fixture422 = fixture{http.StatusUnprocessableEntity, rateHeaders(1600, 1422, 2390), `{"errors":["Query too expensive: the query returns too many points, narrow its scope"]}`}
	// 429, recorded body; the budget is spent, the period resets in 1,200 s.
	fixture429 = fixture{http.StatusTooManyRequests, func() map[string]string {
		h := rateHeaders(600, 0, 1200)
		return h
	}(), `{"errors":["Rate limit of 600 requests in 3600 seconds reached. Please try again later."]}`}
	// 503: the documented error shape; the text is ours.
	fixture503 = fixture{http.StatusServiceUnavailable, rateHeaders(1600, 1421, 2389), `{"errors":["Service Unavailable"]}`}
)
