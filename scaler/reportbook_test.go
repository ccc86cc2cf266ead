package scaler_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
)

// TestReportBook: one record per target, window and start (the last one
// given), the latest MaxBookReports kept.
func TestReportBook(t *testing.T) {
	var b scaler.ReportBook
	start := time.Date(2026, 11, 25, 19, 45, 0, 0, time.UTC)
	web := ground.TargetKey{Namespace: "storefront", Name: "web"}
	const file = "marketing/spots[w.yaml]"
	b.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "spot", File: file, Start: start, Sentence: "first"}})
	b.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "spot", File: file, Start: start, Sentence: "again"}})
	b.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "spot", File: "sales/spots[w.yaml]", Start: start, Sentence: "another ConfigMap's spot"}})
	if r, ok := b.Lookup(web, file, "spot", start.In(time.FixedZone("CET", 3600))); !ok || r.Sentence != "again" {
		t.Fatalf("Lookup = %+v, %v; want the record given last", r, ok)
	}
	if r, ok := b.Lookup(web, "sales/spots[w.yaml]", "spot", start); !ok || r.Sentence != "another ConfigMap's spot" {
		t.Errorf("Lookup of a same-named window of another ConfigMap = %+v, %v", r, ok)
	}
	if _, ok := b.Lookup(web, file, "spot", start.Add(time.Minute)); ok {
		t.Error("found a report of another occurrence")
	}
	for i := range scaler.MaxBookReports + 10 {
		b.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "nightly", Start: start.Add(time.Duration(i+1) * 24 * time.Hour)}})
	}
	recs := b.Records()
	if len(recs) != scaler.MaxBookReports || !recs[0].Start.Equal(start.Add(11*24*time.Hour)) {
		t.Errorf("%d records from %s, want %d from the 11th night (the 2 first records and 10 nights forgotten)", len(recs), recs[0].Start, scaler.MaxBookReports)
	}
}

// TestReportBookServesReports: /reports gives the records and each
// target's last late window in seconds, an empty book an empty document,
// and refuses writes.
func TestReportBookServesReports(t *testing.T) {
	var b scaler.ReportBook
	get := func(method string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, httptest.NewRequest(method, "/reports", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(http.MethodGet); code != 200 || body != "{\n  \"reports\": [],\n  \"leadTime\": {}\n}\n" {
		t.Errorf("empty book: %d %q", code, body)
	}
	start := time.Date(2026, 12, 10, 19, 45, 0, 0, time.UTC)
	b.Merge([]scaler.ReportRecord{{Namespace: "storefront", Target: "web", Window: "spot", Start: start, Sentence: "spot on Thu 10 Dec 19:45: ...", Ratio: 3, Expected: 5}})
	b.Advise(ground.TargetKey{Namespace: "storefront", Name: "web"}, "spot", start, 41*time.Second, 570*time.Second)
	want := `{
  "reports": [
    {
      "namespace": "storefront",
      "target": "web",
      "window": "spot",
      "start": "2026-12-10T19:45:00Z",
      "sentence": "spot on Thu 10 Dec 19:45: ...",
      "ratio": 3,
      "expected": 5
    }
  ],
  "leadTime": {
    "storefront/web": {
      "window": "spot",
      "start": "2026-12-10T19:45:00Z",
      "lateBySeconds": 41,
      "leadTimeSeconds": 570
    }
  }
}
`
	if code, body := get(http.MethodGet); code != 200 || body != want {
		t.Errorf("GET /reports: %d\n%s\nwant:\n%s", code, body, want)
	}
	if code, _ := get(http.MethodPost); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /reports: %d, want 405", code)
	}
}
