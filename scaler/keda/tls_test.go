package keda

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/primetime-dev/primetime/scaler"
	pb "github.com/primetime-dev/primetime/scaler/keda/externalscaler"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a serving certificate for 127.0.0.1 and primetime's Service
// (server true) or a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"primetime.primetime.svc"}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveTLS starts a server on board with TLS from files on a loopback
// port and returns its address.
func serveTLS(t *testing.T, files TLSFiles) string {
	t.Helper()
	cfg, err := ServerTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	board := &scaler.Board{}
	board.Replace(fleet(), decidedAt)
	srv := NewServer(board, maxAge, func() time.Time { return now })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis, grpc.Creds(credentials.NewTLS(cfg))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// kedaClient dials addr as KEDA's external scaler does with caCert and,
// when given, tlsClientCert / tlsClientKey (credentials.NewTLS on a
// config with RootCAs and Certificates), and asks for storefront/web.
func kedaClient(t *testing.T, addr string, caPEM, certPEM, keyPEM []byte) (*pb.GetMetricsResponse, error) {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPEM != nil {
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AppendCertsFromPEM(caPEM)
	}
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pb.NewExternalScalerClient(conn).GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: target("storefront/web"), MetricName: MetricName})
}

// wantRefused checks that a call failed in the TLS handshake, with the
// phrase that says why (the rest of gRPC's message carries addresses).
func wantRefused(t *testing.T, resp *pb.GetMetricsResponse, err error, why string) {
	t.Helper()
	if err == nil {
		t.Fatalf("served %v, want a refused handshake (%s)", resp, why)
	}
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), why) {
		t.Errorf("error %v, want Unavailable with %q", err, why)
	}
}

// alert completes a TLS handshake with addr as KEDA would and returns
// the error of the first read: the server's alert when it refused the
// client, "" when it did not.
func alert(t *testing.T, addr string, caPEM, certPEM, keyPEM []byte) string {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool(), NextProtos: []string{"h2"}}
	cfg.RootCAs.AppendCertsFromPEM(caPEM)
	if certPEM != nil {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		return err.Error()
	}
	return ""
}

func wantServed(t *testing.T, resp *pb.GetMetricsResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("GetMetrics over TLS: %v", err)
	}
	if len(resp.MetricValues) != 1 || resp.MetricValues[0].MetricValue != 5 {
		t.Errorf("served %v, want storefront/web's 5 replicas", resp)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "primetime-ca"), newCA(t, "keda-clients"), newCA(t, "someone-else")
	cert, key := serverCA.issue(t, "primetime", true)
	certFile, keyFile := write(t, dir, "tls.crt", cert), write(t, dir, "tls.key", key)
	clientCAFile := write(t, dir, "client-ca.crt", clientCA.certPEM)
	kedaCert, kedaKey := clientCA.issue(t, "keda-operator", false)
	strangerCert, strangerKey := otherCA.issue(t, "keda-operator", false)

	t.Run("server certificate only", func(t *testing.T) {
		addr := serveTLS(t, TLSFiles{CertFile: certFile, KeyFile: keyFile})
		for _, tc := range []struct {
			name      string
			ca        []byte
			cert, key []byte
			refused   bool
			reason    string
		}{
			{name: "caCert given", ca: serverCA.certPEM},
			{name: "caCert and a client certificate (not asked for)", ca: serverCA.certPEM, cert: kedaCert, key: kedaKey},
			{name: "another CA as caCert", ca: otherCA.certPEM, refused: true, reason: "certificate signed by unknown authority"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := kedaClient(t, addr, tc.ca, tc.cert, tc.key)
				if tc.refused {
					wantRefused(t, resp, err, tc.reason)
					return
				}
				wantServed(t, resp, err)
			})
		}
	})

	t.Run("client certificate required", func(t *testing.T) {
		addr := serveTLS(t, TLSFiles{CertFile: certFile, KeyFile: keyFile, ClientCAFile: clientCAFile})
		for _, tc := range []struct {
			name      string
			cert, key []byte
			refused   bool
		}{
			{name: "KEDA's tlsClientCert from the client CA", cert: kedaCert, key: kedaKey},
			{name: "no client certificate", refused: true},
			// Go's client sends no certificate the server's CAs did not sign.
			{name: "a client certificate from another CA", cert: strangerCert, key: strangerKey, refused: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, err := kedaClient(t, addr, serverCA.certPEM, tc.cert, tc.key)
				if !tc.refused {
					wantServed(t, resp, err)
					return
				}
				// With TLS 1.3 the client learns of the refusal after its
				// own handshake, in a read or a write: gRPC's message
				// depends on which. The alert itself is read here.
				if status.Code(err) != codes.Unavailable {
					t.Errorf("served %v (%v), want Unavailable", resp, err)
				}
				if got := alert(t, addr, serverCA.certPEM, tc.cert, tc.key); got != "remote error: tls: certificate required" {
					t.Errorf("the server's alert: %q, want certificate required", got)
				}
			})
		}
	})

	t.Run("a rotated certificate is served without a restart", func(t *testing.T) {
		rdir := t.TempDir()
		cf, kf := write(t, rdir, "tls.crt", cert), write(t, rdir, "tls.key", key)
		addr := serveTLS(t, TLSFiles{CertFile: cf, KeyFile: kf})
		resp, err := kedaClient(t, addr, serverCA.certPEM, nil, nil)
		wantServed(t, resp, err)

		rotatedCA := newCA(t, "primetime-ca-2")
		newCert, newKey := rotatedCA.issue(t, "primetime", true)
		write(t, rdir, "tls.crt", newCert)
		write(t, rdir, "tls.key", newKey)
		later := time.Now().Add(time.Minute) // a modification time surely different
		for _, f := range []string{cf, kf} {
			if err := os.Chtimes(f, later, later); err != nil {
				t.Fatal(err)
			}
		}
		resp, err = kedaClient(t, addr, rotatedCA.certPEM, nil, nil)
		wantServed(t, resp, err)
		resp, err = kedaClient(t, addr, serverCA.certPEM, nil, nil)
		wantRefused(t, resp, err, "certificate signed by unknown authority")

		// Half written: the last good pair stays in force.
		write(t, rdir, "tls.key", []byte("not a key"))
		resp, err = kedaClient(t, addr, rotatedCA.certPEM, nil, nil)
		wantServed(t, resp, err)
	})

	t.Run("a rotated client CA is enforced without a restart", func(t *testing.T) {
		rdir := t.TempDir()
		caFile := write(t, rdir, "client-ca.crt", clientCA.certPEM)
		addr := serveTLS(t, TLSFiles{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
		resp, err := kedaClient(t, addr, serverCA.certPEM, kedaCert, kedaKey)
		wantServed(t, resp, err)

		// The SRE rotates KEDA's client CA: the new one is trusted and
		// the old client certificate refused at the next handshake.
		newClientCA := newCA(t, "keda-clients-2")
		newCert, newKey := newClientCA.issue(t, "keda-operator", false)
		write(t, rdir, "client-ca.crt", newClientCA.certPEM)
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(caFile, later, later); err != nil {
			t.Fatal(err)
		}
		resp, err = kedaClient(t, addr, serverCA.certPEM, newCert, newKey)
		wantServed(t, resp, err)
		if got := alert(t, addr, serverCA.certPEM, kedaCert, kedaKey); got != "remote error: tls: certificate required" {
			t.Errorf("the old client certificate after the rotation: %q, want refused", got)
		}
	})

	t.Run("configuration errors name the file", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			files TLSFiles
			msg   string
		}{
			{"no certificate", TLSFiles{}, "a serving certificate and key are needed (KEDA's caCert verifies them)"},
			{"missing certificate file", TLSFiles{CertFile: filepath.Join(dir, "none.crt"), KeyFile: keyFile},
				"stat " + filepath.Join(dir, "none.crt") + ": no such file or directory"},
			{"certificate and key that do not match", TLSFiles{CertFile: certFile, KeyFile: write(t, dir, "other.key", strangerKey)},
				"serving certificate " + certFile + " / " + filepath.Join(dir, "other.key") + ": tls: private key does not match public key"},
			{"client CA without a certificate", TLSFiles{CertFile: certFile, KeyFile: keyFile, ClientCAFile: write(t, dir, "empty-ca.crt", []byte("nothing\n"))},
				"client CA " + filepath.Join(dir, "empty-ca.crt") + ": no PEM certificate in it"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := ServerTLS(tc.files)
				if err == nil || err.Error() != tc.msg {
					t.Errorf("error %v, want %q", err, tc.msg)
				}
			})
		}
	})
}
