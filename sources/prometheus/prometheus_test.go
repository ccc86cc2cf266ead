package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/sources"
)

func query(expr string) sources.Query {
	return sources.Query{Namespace: "shop", Spec: ground.LoadSpec{Prometheus: expr}}
}

// fakeAPI answers /api/v1/query with a canned "data" object per query.
func fakeAPI(t *testing.T, answers map[string]string, check func(*http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("bad form: %v", err)
		}
		data, ok := answers[r.Form.Get("query")]
		if !ok {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"unknown query"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":%s}`, data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchResultShapes(t *testing.T) {
	answers := map[string]string{
		"one":      `{"resultType":"vector","result":[{"metric":{},"value":[1764100000,"1234.5"]}]}`,
		"scalar":   `{"resultType":"scalar","result":[1764100000,"42"]}`,
		"empty":    `{"resultType":"vector","result":[]}`,
		"nan":      `{"resultType":"vector","result":[{"metric":{},"value":[1764100000,"NaN"]}]}`,
		"inf":      `{"resultType":"scalar","result":[1764100000,"+Inf"]}`,
		"two":      `{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1764100000,"1"]},{"metric":{"a":"2"},"value":[1764100000,"2"]}]}`,
		"string":   `{"resultType":"string","result":[1764100000,"hello"]}`,
		"zero":     `{"resultType":"vector","result":[{"metric":{},"value":[1764100000,"0"]}]}`,
		"negative": `{"resultType":"scalar","result":[1764100000,"-3"]}`,
	}
	srv := fakeAPI(t, answers, nil)
	src, err := New(Config{URL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1764100000, 0)
	cases := []struct {
		query  string
		want   float64
		status sources.Status
		words  string
	}{
		{"one", 1234.5, sources.StatusOK, ""},
		{"scalar", 42, sources.StatusOK, ""},
		{"zero", 0, sources.StatusOK, ""},      // a real 0 from the source is a value
		{"negative", -3, sources.StatusOK, ""}, // passed on as is; the poller refuses it (sources.TestNotALoadIsAnError)
		{"empty", 0, sources.StatusNoData, "no data"},
		{"nan", 0, sources.StatusError, "NaN"},
		{"inf", 0, sources.StatusError, "Inf"},
		{"two", 0, sources.StatusError, "2 series"},
		{"string", 0, sources.StatusError, "string"},
		{"unknown", 0, sources.StatusError, "unknown query"},
	}
	var qs []sources.Query
	for _, tc := range cases {
		qs = append(qs, query(tc.query))
	}
	results := src.Fetch(context.Background(), qs, at)
	cache := sources.NewCache()
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			q := query(tc.query)
			r, ok := results[q.Key()]
			if !ok {
				t.Fatal("no result")
			}
			cache.Put(q.Key(), r, at)
			reading := cache.Get(q.Key(), at, time.Minute)
			if reading.Status != tc.status {
				t.Fatalf("status %s, want %s (%v)", reading.Status, tc.status, reading.Err)
			}
			if tc.status == sources.StatusOK {
				if reading.Value.V != tc.want || !reading.Value.At.Equal(at) {
					t.Errorf("value %v at %s, want %v at %s", reading.Value.V, reading.Value.At, tc.want, at)
				}
				return
			}
			if reading.Load().OK {
				t.Errorf("a failed reading must not be usable as a load: %+v", reading)
			}
			if !strings.Contains(reading.Err.Error(), tc.words) {
				t.Errorf("error %q does not say %q", reading.Err, tc.words)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cr3t-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		http promconfig.HTTPClientConfig
		want func(*http.Request) bool
	}{
		{"bearer token from a file", BearerToken(tokenFile), func(r *http.Request) bool {
			return r.Header.Get("Authorization") == "Bearer s3cr3t-token"
		}},
		{"basic auth", promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: "primetime", PasswordFile: pwFile}}, func(r *http.Request) bool {
			u, p, ok := r.BasicAuth()
			return ok && u == "primetime" && p == "pw"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authorized := false
			srv := fakeAPI(t, map[string]string{"up": `{"resultType":"scalar","result":[1764100000,"1"]}`}, func(r *http.Request) {
				authorized = tc.want(r)
			})
			src, err := New(Config{URL: srv.URL, HTTP: tc.http}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := src.Fetch(context.Background(), []sources.Query{query("up")}, time.Unix(1764100000, 0))[query("up").Key()]
			if r.Err != nil || !authorized {
				t.Fatalf("err %v, credentials sent: %v", r.Err, authorized)
			}
		})
	}
}

func TestTLSWithCustomCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1764100000,"7"]}}`)
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeCertPEM(t, caFile, srv.Certificate().Raw)

	untrusted, _ := New(Config{URL: srv.URL}, nil)
	r := untrusted.Fetch(context.Background(), []sources.Query{query("x")}, time.Now())[query("x").Key()]
	if r.Err == nil || !strings.Contains(r.Err.Error(), "certificate") {
		t.Errorf("an unknown CA must be refused, got %v", r.Err)
	}
	trusted, err := New(Config{URL: srv.URL, HTTP: promconfig.HTTPClientConfig{TLSConfig: promconfig.TLSConfig{CAFile: caFile}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r = trusted.Fetch(context.Background(), []sources.Query{query("x")}, time.Now())[query("x").Key()]
	if r.Err != nil || r.Value.V != 7 {
		t.Errorf("with the CA: %+v", r)
	}
}

func TestTimeoutIsAnErrorNotZero(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	src, _ := New(Config{URL: srv.URL, Timeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	r := src.Fetch(context.Background(), []sources.Query{query("slow")}, time.Now())[query("slow").Key()]
	if !errors.Is(r.Err, context.DeadlineExceeded) || sources.OutcomeOf(r.Err) != sources.OutcomeTimeout {
		t.Errorf("want a timeout error, got %v", r.Err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout of 200ms took %s", d)
	}
}
