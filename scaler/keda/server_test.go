package keda

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/primetime-dev/primetime/scaler"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
	"github.com/primetime-dev/primetime/scaler/metricsapi"
)

// The decisions the tests publish were made at decidedAt; the servers'
// clock reads now, 10 s later.
var (
	decidedAt = time.Date(2026, 11, 25, 20, 37, 0, 0, time.UTC)
	now       = decidedAt.Add(10 * time.Second)
)

const maxAge = time.Minute

func replicas(n int32) *int32 { return &n }

// fleet is a board generation covering each case of a target's state.
func fleet() []scaler.Published {
	return []scaler.Published{
		{Namespace: "storefront", Name: "web", Replicas: replicas(5), At: decidedAt},
		{Namespace: "storefront", Name: "idle", Replicas: replicas(0), At: decidedAt},
		{Namespace: "storefront", Name: "broken", At: decidedAt, Error: "load of storefront/broken is failing: prometheus: connection refused"},
		{Namespace: "storefront", Name: "old", Replicas: replicas(3), At: decidedAt.Add(-2 * time.Minute)},
		{Namespace: "storefront", Name: "novalue", At: decidedAt},
		{Namespace: "staging", Name: "web", Replicas: replicas(1), At: decidedAt},
	}
}

// serve starts srv on an in-memory listener and returns a client of it;
// the server stops when the test ends.
func serve(t *testing.T, srv *Server) pb.ExternalScalerClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///primetime",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return pb.NewExternalScalerClient(conn)
}

// fixture is a server on a board holding fleet(), its clock at now.
func fixture(t *testing.T) (pb.ExternalScalerClient, *scaler.Board) {
	t.Helper()
	board := &scaler.Board{}
	board.Replace(fleet(), decidedAt)
	return serve(t, NewServer(board, maxAge, func() time.Time { return now })), board
}

// ref is the ScaledObjectRef KEDA sends for a trigger with metadata md.
func ref(md map[string]string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: "web", Namespace: "storefront", ScalerMetadata: md}
}

func target(key string) *pb.ScaledObjectRef {
	return ref(map[string]string{"scalerAddress": "primetime.primetime.svc:9443", "target": key})
}

// wantStatus checks a gRPC error's code and message.
func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if err == nil || st.Code() != code || st.Message() != msg {
		t.Errorf("error %v, want %s %q", err, code, msg)
	}
}

// The errors a request gets for the trigger's metadata, whatever the RPC.
var metadataCases = []struct {
	name string
	md   map[string]string
	msg  string
}{
	{"no target key", map[string]string{"scalerAddress": "primetime.primetime.svc:9443"},
		`trigger metadata "target" is missing: set it to the primetime target as namespace/name, e.g. target: storefront/web`},
	{"no metadata at all", nil,
		`trigger metadata "target" is missing: set it to the primetime target as namespace/name, e.g. target: storefront/web`},
	{"empty target", map[string]string{"target": "  "},
		`trigger metadata "target" is missing: set it to the primetime target as namespace/name, e.g. target: storefront/web`},
	{"a name without its namespace", map[string]string{"target": "web"},
		`trigger metadata target: "web" is not namespace/name of a primetime target, e.g. target: storefront/web`},
	{"an empty name", map[string]string{"target": "storefront/"},
		`trigger metadata target: "storefront/" is not namespace/name of a primetime target, e.g. target: storefront/web`},
	{"three parts", map[string]string{"target": "storefront/web/api"},
		`trigger metadata target: "storefront/web/api" is not namespace/name of a primetime target, e.g. target: storefront/web`},
	{"upper case", map[string]string{"target": "Storefront/web"},
		`trigger metadata target: "Storefront/web" is not namespace/name of a primetime target, e.g. target: storefront/web`},
}

func TestGetMetrics(t *testing.T) {
	client, _ := fixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, target string
		value        int64
		code         codes.Code
		msg          string
	}{
		{name: "the decision of a known target", target: "storefront/web", value: 5},
		{name: "a decision of 0 is served as 0", target: "storefront/idle", value: 0},
		{name: "same name in another namespace", target: "staging/web", value: 1},
		{name: "unknown target", target: "storefront/api", code: codes.NotFound,
			msg: "no primetime target storefront/api: check the trigger's metadata target and primetime's targets"},
		{name: "unknown namespace", target: "shop/web", code: codes.NotFound,
			msg: "no primetime target shop/web: check the trigger's metadata target and primetime's targets"},
		{name: "stale decision", target: "storefront/old", code: codes.Unavailable,
			msg: "storefront/old: the decision is 2m10s old (primetime is not evaluating)"},
		{name: "source failing", target: "storefront/broken", code: codes.FailedPrecondition,
			msg: "load of storefront/broken is failing: prometheus: connection refused"},
		{name: "no value and no reason", target: "storefront/novalue", code: codes.FailedPrecondition,
			msg: "storefront/novalue: no primetime_replicas value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: target(tc.target), MetricName: MetricName})
			if tc.code != codes.OK {
				wantStatus(t, err, tc.code, tc.msg)
				if resp != nil {
					t.Errorf("a value with the error: %v", resp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.MetricValues) != 1 {
				t.Fatalf("%d values, want 1: %v", len(resp.MetricValues), resp)
			}
			v := resp.MetricValues[0]
			if v.MetricName != "primetime_replicas" || v.MetricValue != tc.value || v.MetricValueFloat != float64(tc.value) {
				t.Errorf("value %v, want primetime_replicas %d (int and float)", v, tc.value)
			}
		})
	}
	t.Run("another metric", func(t *testing.T) {
		_, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: target("storefront/web"), MetricName: "primetime_load"})
		wantStatus(t, err, codes.NotFound, `unknown metric "primetime_load": primetime serves primetime_replicas`)
	})
	for _, tc := range metadataCases {
		t.Run("metadata: "+tc.name, func(t *testing.T) {
			_, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref(tc.md), MetricName: MetricName})
			wantStatus(t, err, codes.InvalidArgument, tc.msg)
		})
	}
	t.Run("the same name as the external metrics API", func(t *testing.T) {
		if MetricName != metricsapi.MetricReplicas {
			t.Errorf("KEDA gets %q, the external metrics API serves %q", MetricName, metricsapi.MetricReplicas)
		}
	})
}

func TestBeforeTheFirstDecision(t *testing.T) {
	client := serve(t, NewServer(&scaler.Board{}, maxAge, func() time.Time { return now }))
	ctx := context.Background()
	const msg = "storefront/web: primetime has published no decision yet (starting, or no leader)"
	_, err := client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: target("storefront/web"), MetricName: MetricName})
	wantStatus(t, err, codes.Unavailable, msg)
	_, err = client.IsActive(ctx, target("storefront/web"))
	wantStatus(t, err, codes.Unavailable, msg)
	stream, err := client.StreamIsActive(ctx, target("storefront/web"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantStatus(t, err, codes.Unavailable, msg)
	// The spec needs no decision: KEDA builds its HPA while primetime starts.
	spec, err := client.GetMetricSpec(ctx, target("storefront/web"))
	if err != nil || len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != MetricName {
		t.Errorf("GetMetricSpec before the first decision: %v, %v", spec, err)
	}
}

func TestIsActive(t *testing.T) {
	client, _ := fixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, target string
		active       bool
		code         codes.Code
		msg          string
	}{
		{name: "replicas wanted", target: "storefront/web", active: true},
		{name: "0 replicas wanted", target: "storefront/idle", active: false},
		{name: "unknown target", target: "storefront/api", code: codes.NotFound,
			msg: "no primetime target storefront/api: check the trigger's metadata target and primetime's targets"},
		{name: "stale decision", target: "storefront/old", code: codes.Unavailable,
			msg: "storefront/old: the decision is 2m10s old (primetime is not evaluating)"},
		{name: "source failing", target: "storefront/broken", code: codes.FailedPrecondition,
			msg: "load of storefront/broken is failing: prometheus: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.IsActive(ctx, target(tc.target))
			if tc.code != codes.OK {
				wantStatus(t, err, tc.code, tc.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Result != tc.active {
				t.Errorf("active %v, want %v", resp.Result, tc.active)
			}
		})
	}
	for _, tc := range metadataCases {
		t.Run("metadata: "+tc.name, func(t *testing.T) {
			_, err := client.IsActive(ctx, ref(tc.md))
			wantStatus(t, err, codes.InvalidArgument, tc.msg)
		})
	}
}

func TestGetMetricSpec(t *testing.T) {
	client, _ := fixture(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, target string }{
		{"a known target", "storefront/web"},
		// The spec does not depend on the decision: a target added to
		// primetime after the ScaledObject gets its HPA metric at once.
		{"a target not on the board yet", "storefront/api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.GetMetricSpec(ctx, target(tc.target))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.MetricSpecs) != 1 {
				t.Fatalf("%d specs, want 1: %v", len(resp.MetricSpecs), resp)
			}
			s := resp.MetricSpecs[0]
			if s.MetricName != "primetime_replicas" || s.TargetSize != 1 || s.TargetSizeFloat != 1 {
				t.Errorf("spec %v, want primetime_replicas with a target of 1 (int and float)", s)
			}
		})
	}
	for _, tc := range metadataCases {
		t.Run("metadata: "+tc.name, func(t *testing.T) {
			_, err := client.GetMetricSpec(ctx, ref(tc.md))
			wantStatus(t, err, codes.InvalidArgument, tc.msg)
		})
	}
}

// recv receives the next message of a stream, failing the test after 10 s.
func recv(t *testing.T, stream grpc.ServerStreamingClient[pb.IsActiveResponse]) (*pb.IsActiveResponse, error) {
	t.Helper()
	type result struct {
		r   *pb.IsActiveResponse
		err error
	}
	got := make(chan result, 1)
	go func() { r, err := stream.Recv(); got <- result{r, err} }()
	select {
	case r := <-got:
		return r.r, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("no message on the stream within 10 s")
		return nil, nil
	}
}

func wantActive(t *testing.T, stream grpc.ServerStreamingClient[pb.IsActiveResponse], want bool) {
	t.Helper()
	r, err := recv(t, stream)
	if err != nil {
		t.Fatalf("stream: %v, want active %v", err, want)
	}
	if r.Result != want {
		t.Fatalf("pushed active %v, want %v", r.Result, want)
	}
}

// generation is one board entry for storefront/web, decided at `at`.
func generation(at time.Time, n int32, floor bool) []scaler.Published {
	return []scaler.Published{{Namespace: "storefront", Name: "web", Replicas: replicas(n), Floor: floor, At: at}}
}

func TestStreamIsActive(t *testing.T) {
	ctx := context.Background()

	t.Run("pushes the state at once, then each change and each floor start", func(t *testing.T) {
		board := &scaler.Board{}
		board.Replace(generation(decidedAt, 2, false), decidedAt)
		client := serve(t, NewServer(board, maxAge, func() time.Time { return now }))
		stream, err := client.StreamIsActive(ctx, target("storefront/web"))
		if err != nil {
			t.Fatal(err)
		}
		wantActive(t, stream, true) // at once: 2 replicas wanted

		// A window's floor starts: active already, pushed again so that
		// KEDA acts at once.
		board.Replace(generation(decidedAt, 20, true), decidedAt)
		wantActive(t, stream, true)
		// The same state in the next generations: nothing is pushed ...
		board.Replace(generation(decidedAt, 20, true), decidedAt)
		board.Replace(generation(decidedAt, 18, true), decidedAt)
		board.Replace(generation(decidedAt, 18, false), decidedAt)
		// ... until it changes: the next message is this one.
		board.Replace(generation(decidedAt, 0, false), decidedAt)
		wantActive(t, stream, false)
	})

	t.Run("from zero: the floor's start activates the workload", func(t *testing.T) {
		board := &scaler.Board{}
		board.Replace(generation(decidedAt, 0, false), decidedAt)
		client := serve(t, NewServer(board, maxAge, func() time.Time { return now }))
		stream, err := client.StreamIsActive(ctx, target("storefront/web"))
		if err != nil {
			t.Fatal(err)
		}
		wantActive(t, stream, false)
		board.Replace(generation(decidedAt, 0, false), decidedAt) // nothing new
		board.Replace(generation(decidedAt, 20, true), decidedAt)
		wantActive(t, stream, true)
	})

	t.Run("a decision that grows stale ends the stream with the reason", func(t *testing.T) {
		board := &scaler.Board{}
		made := time.Now()
		board.Replace(generation(made, 4, false), made)
		// The real clock: no new generation comes, and the stream must
		// notice the decision's age on its own.
		client := serve(t, NewServer(board, 300*time.Millisecond, nil))
		stream, err := client.StreamIsActive(ctx, target("storefront/web"))
		if err != nil {
			t.Fatal(err)
		}
		wantActive(t, stream, true)
		_, err = recv(t, stream)
		wantStatus(t, err, codes.Unavailable, "storefront/web: the decision is 0s old (primetime is not evaluating)")
	})

	t.Run("a target that goes away ends the stream", func(t *testing.T) {
		board := &scaler.Board{}
		board.Replace(generation(decidedAt, 4, false), decidedAt)
		client := serve(t, NewServer(board, maxAge, func() time.Time { return now }))
		stream, err := client.StreamIsActive(ctx, target("storefront/web"))
		if err != nil {
			t.Fatal(err)
		}
		wantActive(t, stream, true)
		board.Replace(nil, decidedAt)
		_, err = recv(t, stream)
		wantStatus(t, err, codes.NotFound, "no primetime target storefront/web: check the trigger's metadata target and primetime's targets")
	})

	t.Run("shutdown ends the stream so that KEDA reconnects elsewhere", func(t *testing.T) {
		board := &scaler.Board{}
		board.Replace(generation(decidedAt, 4, false), decidedAt)
		srv := NewServer(board, maxAge, func() time.Time { return now })
		lis := bufconn.Listen(1 << 20)
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(sctx, lis) }()
		conn, err := grpc.NewClient("passthrough:///primetime",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := pb.NewExternalScalerClient(conn).StreamIsActive(ctx, target("storefront/web"))
		if err != nil {
			t.Fatal(err)
		}
		wantActive(t, stream, true)
		stop()
		_, err = recv(t, stream)
		wantStatus(t, err, codes.Unavailable, "primetime is shutting down; reconnect")
		if err := <-served; err != nil {
			t.Errorf("Serve after shutdown: %v", err)
		}
	})

	t.Run("errors at the start", func(t *testing.T) {
		client, _ := fixture(t)
		for _, tc := range []struct {
			name string
			ref  *pb.ScaledObjectRef
			code codes.Code
			msg  string
		}{
			{"unknown target", target("storefront/api"), codes.NotFound,
				"no primetime target storefront/api: check the trigger's metadata target and primetime's targets"},
			{"stale decision", target("storefront/old"), codes.Unavailable,
				"storefront/old: the decision is 2m10s old (primetime is not evaluating)"},
			{"source failing", target("storefront/broken"), codes.FailedPrecondition,
				"load of storefront/broken is failing: prometheus: connection refused"},
			{"no target key", ref(map[string]string{"scalerAddress": "primetime.primetime.svc:9443"}), codes.InvalidArgument,
				`trigger metadata "target" is missing: set it to the primetime target as namespace/name, e.g. target: storefront/web`},
			{"ill-formed target", ref(map[string]string{"target": "web"}), codes.InvalidArgument,
				`trigger metadata target: "web" is not namespace/name of a primetime target, e.g. target: storefront/web`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				stream, err := client.StreamIsActive(ctx, tc.ref)
				if err != nil {
					t.Fatal(err)
				}
				_, err = recv(t, stream)
				wantStatus(t, err, tc.code, tc.msg)
			})
		}
	})
}

// A leader change, as a follower sees it: the dead leader's last
// decisions are served until they are maxAge old, then refused (never
// served stale), and the new leader's first generation is served at once.
func TestLeaderChange(t *testing.T) {
	board := &scaler.Board{}
	clock := decidedAt
	srv := NewServer(board, maxAge, func() time.Time { return clock })
	client := serve(t, srv)
	ctx := context.Background()
	get := func() (*pb.GetMetricsResponse, error) {
		return client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: target("storefront/web"), MetricName: MetricName})
	}
	// The old leader's decision, handed over to this follower.
	board.Replace(generation(decidedAt, 20, true), decidedAt)
	for _, tc := range []struct {
		name  string
		after time.Duration
		value int64
		msg   string
	}{
		{name: "within maxAge: the last decision", after: maxAge, value: 20},
		{name: "past maxAge: refused, not served stale", after: maxAge + time.Second, msg: "storefront/web: the decision is 1m1s old (primetime is not evaluating)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock = decidedAt.Add(tc.after)
			resp, err := get()
			if tc.msg != "" {
				wantStatus(t, err, codes.Unavailable, tc.msg)
				if _, err := client.IsActive(ctx, target("storefront/web")); status.Code(err) != codes.Unavailable {
					t.Errorf("IsActive on a stale decision: %v, want Unavailable", err)
				}
				return
			}
			if err != nil || resp.MetricValues[0].MetricValue != tc.value {
				t.Errorf("GetMetrics %v, %v; want %d", resp, err, tc.value)
			}
		})
	}
	t.Run("the new leader's first generation", func(t *testing.T) {
		taken := decidedAt.Add(maxAge + 5*time.Second)
		clock = taken
		board.Replace(generation(taken, 21, true), taken)
		resp, err := get()
		if err != nil || resp.MetricValues[0].MetricValue != 21 {
			t.Errorf("GetMetrics %v, %v; want 21", resp, err)
		}
	})
}
