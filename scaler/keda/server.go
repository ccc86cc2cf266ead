package keda

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/scaler"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
)

const (
	// MetricName is the one metric served to KEDA: the replicas primetime
	// wants now for the target, as primetime_replicas of the external
	// metrics API.
	MetricName = "primetime_replicas"
	// TargetKey is the trigger metadata key naming the target, as
	// namespace/name (target: storefront/web).
	TargetKey = "target"
	// TargetSize is the metric's target per replica: KEDA's HPA then uses
	// AverageValue 1 and follows primetime's replicas, as an HPA on the
	// external metrics API does.
	TargetSize = 1
)

// Server implements KEDA's ExternalScaler service from a Board.
type Server struct {
	pb.UnimplementedExternalScalerServer
	board *scaler.Board
	// maxAge is how old a published decision may be; older means the
	// engine (or the leader) stopped, and the scaler answers an error.
	maxAge time.Duration
	clock  func() time.Time

	stopping chan struct{} // closed when Serve's context ends
	stopOnce sync.Once
}

var _ pb.ExternalScalerServer = (*Server)(nil)

// NewServer returns a server answering from board; decisions older than
// maxAge (the external metrics API's limit) are refused. clock is
// time.Now when nil.
func NewServer(board *scaler.Board, maxAge time.Duration, clock func() time.Time) *Server {
	if clock == nil {
		clock = time.Now
	}
	return &Server{board: board, maxAge: maxAge, clock: clock, stopping: make(chan struct{})}
}

// Serve answers on lis until ctx ends, then ends the open streams (KEDA
// reconnects, to another replica behind the Service) and stops
// gracefully. opts carry the TLS credentials (see ServerTLS). Serve is
// called once per Server.
func (s *Server) Serve(ctx context.Context, lis net.Listener, opts ...grpc.ServerOption) error {
	srv := grpc.NewServer(opts...)
	pb.RegisterExternalScalerServer(srv, s)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		s.stop()
		return err
	case <-ctx.Done():
		s.stop()
		srv.GracefulStop()
		<-served
		return nil
	}
}

func (s *Server) stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// IsActive implements pb.ExternalScalerServer: true when primetime wants
// more than 0 replicas for the target. KEDA scales the workload to zero
// only when every trigger is inactive and minReplicaCount is 0.
func (s *Server) IsActive(_ context.Context, ref *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	key, err := targetOf(ref)
	if err != nil {
		return nil, err
	}
	_, replicas, err := s.current(key)
	if err != nil {
		return nil, err
	}
	return &pb.IsActiveResponse{Result: replicas > 0}, nil
}

// StreamIsActive implements pb.ExternalScalerServer for `external-push`
// triggers: it sends the target's state at once, then again whenever it
// changes (active or not) and whenever a window's floor starts, so that
// KEDA acts without waiting for its polling interval. It wakes on each
// new generation of the board, and when the last decision grows too old.
// When the target has no value (stale, source failing, unknown), the
// stream ends with the error IsActive would answer; KEDA reconnects.
func (s *Server) StreamIsActive(ref *pb.ScaledObjectRef, stream pb.ExternalScaler_StreamIsActiveServer) error {
	key, err := targetOf(ref)
	if err != nil {
		return err
	}
	ctx := stream.Context()
	sent, wasActive, wasFloor := false, false, false
	for {
		changed := s.board.Changed() // before reading: no generation is missed
		p, replicas, err := s.current(key)
		if err != nil {
			return err
		}
		active := replicas > 0
		if !sent || active != wasActive || (p.Floor && !wasFloor) {
			if err := stream.Send(&pb.IsActiveResponse{Result: active}); err != nil {
				return err
			}
			sent, wasActive = true, active
		}
		wasFloor = p.Floor
		// The decision turns stale at At+maxAge if no generation comes.
		stale := time.NewTimer(p.At.Add(s.maxAge).Sub(s.clock()) + time.Millisecond)
		select {
		case <-ctx.Done():
			stale.Stop()
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			stale.Stop()
			return status.Error(codes.Unavailable, "primetime is shutting down; reconnect")
		case <-changed:
		case <-stale.C:
		}
		stale.Stop()
	}
}

// GetMetricSpec implements pb.ExternalScalerServer: primetime_replicas
// with a target of 1 per replica. It depends only on the metadata, so
// that KEDA can build its HPA before primetime has a decision.
func (s *Server) GetMetricSpec(_ context.Context, ref *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	if _, err := targetOf(ref); err != nil {
		return nil, err
	}
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName: MetricName, TargetSize: TargetSize, TargetSizeFloat: TargetSize,
	}}}, nil
}

// GetMetrics implements pb.ExternalScalerServer: the replicas primetime
// wants now for the target. An unknown target or metric is NotFound; a
// target without a fresh value is an error with the reason (Unavailable
// when primetime is not evaluating, FailedPrecondition when the target
// itself has no value), never a made-up value and never 0.
func (s *Server) GetMetrics(_ context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	key, err := targetOf(req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	if req.GetMetricName() != MetricName {
		return nil, status.Errorf(codes.NotFound, "unknown metric %q: primetime serves %s", req.GetMetricName(), MetricName)
	}
	_, replicas, err := s.current(key)
	if err != nil {
		return nil, err
	}
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName: MetricName, MetricValue: int64(replicas), MetricValueFloat: float64(replicas),
	}}}, nil
}

// current returns the target's entry on the board and its replicas, or
// the gRPC error saying why there is no value.
func (s *Server) current(key ground.TargetKey) (*scaler.Published, int32, error) {
	if !s.board.Ready() {
		return nil, 0, status.Errorf(codes.Unavailable, "%s: primetime has published no decision yet (starting, or no leader)", key)
	}
	found := s.board.Lookup(key.Namespace, labels.SelectorFromSet(labels.Set{"target": key.Name}))
	if len(found) == 0 {
		return nil, 0, status.Errorf(codes.NotFound, "no primetime target %s: check the trigger's metadata %s and primetime's targets", key, TargetKey)
	}
	p := found[0]
	if age := s.clock().Sub(p.At); age > s.maxAge {
		return nil, 0, status.Errorf(codes.Unavailable, "%s: the decision is %s old (primetime is not evaluating)", key, age.Round(time.Second))
	}
	switch {
	case p.Error != "":
		return nil, 0, status.Error(codes.FailedPrecondition, p.Error)
	case p.Replicas == nil:
		return nil, 0, status.Errorf(codes.FailedPrecondition, "%s: no %s value", key, MetricName)
	}
	return p, *p.Replicas, nil
}

// targetOf reads the trigger's metadata: target, as namespace/name.
func targetOf(ref *pb.ScaledObjectRef) (ground.TargetKey, error) {
	v, ok := ref.GetScalerMetadata()[TargetKey]
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return ground.TargetKey{}, status.Errorf(codes.InvalidArgument,
			"trigger metadata %q is missing: set it to the primetime target as namespace/name, e.g. %s: storefront/web", TargetKey, TargetKey)
	}
	ns, name, found := strings.Cut(v, "/")
	if !found || !isLabel(ns) || !isLabel(name) {
		return ground.TargetKey{}, status.Errorf(codes.InvalidArgument,
			"trigger metadata %s: %q is not namespace/name of a primetime target, e.g. %s: storefront/web", TargetKey, v, TargetKey)
	}
	return ground.TargetKey{Namespace: ns, Name: name}, nil
}

func isLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }
