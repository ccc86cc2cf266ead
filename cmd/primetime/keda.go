//go:build !simulateonly

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/primetime-dev/primetime/scaler"
	"github.com/primetime-dev/primetime/scaler/keda"
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
	errc, err := keda.Listen(ctx, keda.ListenConfig{Addr: o.addr, TLS: files, Board: board, MaxAge: maxAge, Log: log})
	if err != nil {
		return nil, fmt.Errorf("--keda-addr: %w", err)
	}
	return errc, nil
}
