//go:build !simulateonly

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/keda"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
)

// kedaFlags are serve's flags of KEDA's external scaler endpoint.
type kedaFlags struct {
	addr         string
	certFile     string
	keyFile      string
	clientCAFile string
	// flags is serve's flag set: the API server's certificate flags are
	// the default of the endpoint's.
	flags *pflag.FlagSet
}

func (o *kedaFlags) install(f *pflag.FlagSet) {
	o.flags = f
	f.StringVar(&o.addr, "keda-addr", "", "address of KEDA's external scaler endpoint (gRPC with TLS, e.g. :9443) for ScaledObject triggers of type external or external-push; off when empty")
	f.StringVar(&o.certFile, "keda-tls-cert-file", "", "serving certificate of the KEDA endpoint (default: --tls-cert-file); the trigger's caCert verifies it")
	f.StringVar(&o.keyFile, "keda-tls-private-key-file", "", "key of --keda-tls-cert-file (default: --tls-private-key-file)")
	f.StringVar(&o.clientCAFile, "keda-client-ca-file", "", "CA of the client certificate KEDA must present (tlsClientCert/tlsClientKey); none required when empty")
}

// flagValue returns the value of another serve flag, "" when absent.
func (o *kedaFlags) flagValue(name string) string {
	if o.flags == nil {
		return ""
	}
	if fl := o.flags.Lookup(name); fl != nil {
		return fl.Value.String()
	}
	return ""
}

// serve starts KEDA's external scaler endpoint on --keda-addr, answering
// from board with decisions up to maxAge old (the external metrics API's
// limit), until ctx ends. It returns at once: an error when the endpoint
// cannot start (certificates, address), else a channel that receives the
// error if it stops serving before ctx ends. With --keda-addr empty the
// channel is nil (a select on it waits forever).
func (o *kedaFlags) serve(ctx context.Context, board *scaler.Board, maxAge time.Duration, log *zap.Logger) (<-chan error, error) {
	if o.addr == "" {
		return nil, nil
	}
	files := keda.TLSFiles{CertFile: o.certFile, KeyFile: o.keyFile, ClientCAFile: o.clientCAFile}
	if (files.CertFile == "") != (files.KeyFile == "") {
		return nil, errors.New("--keda-tls-cert-file and --keda-tls-private-key-file go together")
	}
	if files.CertFile == "" {
		files.CertFile, files.KeyFile = o.flagValue("tls-cert-file"), o.flagValue("tls-private-key-file")
	}
	if files.CertFile == "" || files.KeyFile == "" {
		return nil, errors.New("--keda-addr needs a serving certificate: --keda-tls-cert-file and --keda-tls-private-key-file, or the API server's --tls-cert-file and --tls-private-key-file")
	}
	cfg, err := keda.ServerTLS(files)
	if err != nil {
		return nil, fmt.Errorf("--keda-addr: %w", err)
	}
	lis, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("--keda-addr: %w", err)
	}
	srv := keda.NewServer(board, maxAge, time.Now)
	opts := []grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(cfg)),
		// A KEDA that went away (its node died) ends its streams within
		// 80 s instead of the TCP timeout.
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
		zap.String("cert", files.CertFile), zap.Bool("clientCertificateRequired", files.ClientCAFile != ""))
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ctx, lis, opts...); err != nil {
			errc <- err
		}
	}()
	return errc, nil
}

// logRefusal logs, at debug level, a request answered with an error
// (KEDA logs it too, and counts it toward its fallback).
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
