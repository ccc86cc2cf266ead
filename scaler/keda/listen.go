package keda

import (
	"context"
	"net"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/primetime-dev/primetime/scaler"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
)

// ListenConfig is where and how the external scaler endpoint serves.
type ListenConfig struct {
	// Addr is the TCP address to listen on, e.g. :9443.
	Addr string
	// TLS holds the serving certificate and, when set, the CA of the
	// client certificate KEDA must present.
	TLS TLSFiles
	// Board holds the decisions served; MaxAge is the oldest served (the
	// external metrics API's limit).
	Board  *scaler.Board
	MaxAge time.Duration
	Log    *zap.Logger
}

// Listen starts KEDA's external scaler endpoint, until ctx ends. It
// returns at once: an error when the endpoint cannot start (certificates,
// address), else a channel that receives the error if it stops serving
// before ctx ends. Requests answered with an error are logged at debug
// level (KEDA logs them too, and counts them toward its fallback); a KEDA
// that went away (its node died) ends its streams within 80 s instead of
// the TCP timeout.
func Listen(ctx context.Context, c ListenConfig) (<-chan error, error) {
	cfg, err := ServerTLS(c.TLS)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	log := c.Log
	if log == nil {
		log = zap.NewNop()
	}
	srv := NewServer(c.Board, c.MaxAge, time.Now)
	opts := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(cfg)),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			resp, err := handler(ctx, req)
			if err != nil {
				logRefusal(log, info.FullMethod, req, err)
			}
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(s any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			err := handler(s, ss)
			if err != nil && ss.Context().Err() == nil {
				logRefusal(log, info.FullMethod, nil, err)
			}
			return err
		}),
	}
	log.Info("serving KEDA's external scaler protocol", zap.String("addr", lis.Addr().String()),
		zap.String("cert", c.TLS.CertFile), zap.Bool("clientCertificateRequired", c.TLS.ClientCAFile != ""))
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ctx, lis, opts...); err != nil {
			errc <- err
		}
	}()
	return errc, nil
}

// logRefusal logs, at debug level, a request answered with an error.
func logRefusal(log *zap.Logger, method string, req any, err error) {
	fields := []zap.Field{zap.String("method", method), zap.String("code", status.Code(err).String()), zap.String("reason", status.Convert(err).Message())}
	var ref *pb.ScaledObjectRef
	switch r := req.(type) {
	case *pb.ScaledObjectRef:
		ref = r
	case *pb.GetMetricsRequest:
		ref = r.GetScaledObjectRef()
	}
	if ref != nil {
		fields = append(fields, zap.String("scaledObject", ref.GetNamespace()+"/"+ref.GetName()))
	}
	log.Debug("KEDA request refused", fields...)
}
