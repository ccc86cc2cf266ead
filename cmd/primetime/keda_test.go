//go:build !simulateonly

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/scaler"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
)

// serve --keda-addr: the endpoint's certificate defaults to the external
// metrics API's, and a configuration that cannot serve is refused at
// start with the flag named.
func TestKEDAFlags(t *testing.T) {
	ca := testbed.NewCA(t, "primetime-ca")
	cert, key := ca.Issue(t, "primetime", "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := testbed.WriteFile(t, dir, "tls.crt", cert), testbed.WriteFile(t, dir, "tls.key", key)
	board := &scaler.Board{}
	n := int32(7)
	board.Replace([]scaler.Published{{Namespace: "storefront", Name: "web", Replicas: &n, At: time.Now()}}, time.Now())

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	flags := func(args ...string) *kedaFlags {
		t.Helper()
		f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		f.String("tls-cert-file", "", "")
		f.String("tls-private-key-file", "", "")
		o := &kedaFlags{}
		o.install(f)
		if err := f.Parse(args); err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no certificate at all", []string{"--keda-addr=127.0.0.1:0"},
			"--keda-addr needs a serving certificate: --keda-tls-cert-file and --keda-tls-private-key-file, or the API server's --tls-cert-file and --tls-private-key-file"},
		{"a certificate without its key", []string{"--keda-addr=127.0.0.1:0", "--keda-tls-cert-file=" + certFile},
			"--keda-tls-cert-file and --keda-tls-private-key-file go together"},
		{"an address already in use", []string{"--keda-addr=" + busy.Addr().String(), "--tls-cert-file=" + certFile, "--tls-private-key-file=" + keyFile},
			"--keda-addr: listen tcp " + busy.Addr().String() + ": bind: address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flags(tc.args...).serve(context.Background(), board, time.Minute, zap.NewNop())
			if err == nil || err.Error() != tc.msg {
				t.Errorf("error %v, want %q", err, tc.msg)
			}
		})
	}
	t.Run("off without --keda-addr", func(t *testing.T) {
		errc, err := flags().serve(context.Background(), board, time.Minute, zap.NewNop())
		if errc != nil || err != nil {
			t.Errorf("serve without --keda-addr: %v, %v", errc, err)
		}
	})
	t.Run("the API server's certificate by default", func(t *testing.T) {
		port := testbed.FreePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		o := flags("--keda-addr=127.0.0.1:"+strconv.Itoa(port), "--tls-cert-file="+certFile, "--tls-private-key-file="+keyFile)
		if _, err := o.serve(ctx, board, time.Minute, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca.CertPEM)
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		resp, err := pb.NewExternalScalerClient(conn).GetMetrics(ctx, &pb.GetMetricsRequest{
			ScaledObjectRef: &pb.ScaledObjectRef{Name: "web", Namespace: "storefront", ScalerMetadata: map[string]string{"target": "storefront/web"}},
			MetricName:      "primetime_replicas"})
		if err != nil || len(resp.MetricValues) != 1 || resp.MetricValues[0].MetricValue != 7 {
			t.Errorf("GetMetrics over TLS: %v, %v; want 7", resp, err)
		}
	})
}
