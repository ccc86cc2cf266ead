// Package datadog reads load from Datadog's metrics query API with the
// official client, batching the queries of all targets into few calls and
// staying within primetime's share of the organisation's rate limit.
//
// Why the v1 query API and not v2 timeseries: v1 takes many queries in one
// GET (comma-joined, each series tagged with its query_index), which is how
// the Datadog Cluster Agent serves external metrics at scale, so one call per
// 35 distinct queries answers every target. v2 /query/timeseries also
// batches, but its formulas-and-queries body costs more per query to build
// and decode, and its rate limit is counted the same way; for "give me the
// latest value of N queries" v1 does the job with less.
//
// What it does with Datadog's real answers:
//   - Every metric of a query is sent with a pinned rollup,
//     .rollup(avg,30) or, for .as_count(), .rollup(sum,30) (one holding its
//     own .rollup(fn,N) is sent as written, a .rollup(fn) gets 30 s), live
//     and history alike: the API would otherwise pick
//     the interval from the window, and forecast and observed load would not
//     be in one unit. A point is stamped at its bucket's end and used once
//     the bucket ended at least the pinned rollup (30 s) before now: the
//     newest points reach Datadog late, whatever the bucket's width. Its
//     value stays fresh for the staleness limit plus the bucket's width
//     (sources.Value.Span), so a .rollup(avg, 300) query reads as fresh as
//     its buckets allow, and lags the load by up to 5 minutes more.
//   - Failures stay with what failed: a call answered 400, 422, 5xx, with
//     status "error", or timing out is split in halves within the refresh as
//     long as another call succeeded; a query failing alone is quarantined
//     (retried alone every RejectedRetry). When every call fails, each
//     refresh sends one probe call, and the first that succeeds sends the
//     rest of its refresh. Only a 429 (or a spent budget) pauses all calls.
//   - Live reads and history (BatchHistory, 35 queries per call) share one
//     budget: the x-ratelimit-* headers set the live refresh interval
//     (sources.Pacer) so that both stay within Config.BudgetShare of
//     x-ratelimit-limit per x-ratelimit-period (budget.go).
//
// It may import ground, sources, Datadog's Go client and apimachinery's
// wait (back-off and jitter).
package datadog
