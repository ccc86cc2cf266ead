package datadog

import (
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
)

func TestCheckRoots(t *testing.T) {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	one := x509.NewCertPool()
	one.AddCert(srv.Certificate())
	const none = "no CA certificates to verify it with: the system's bundle (/etc/ssl/certs/ca-certificates.crt, or SSL_CERT_FILE and SSL_CERT_DIR) is missing or empty"
	tests := []struct {
		name string
		load func() (*x509.CertPool, error)
		want string
	}{
		{"a bundle", func() (*x509.CertPool, error) { return one, nil }, ""},
		{"an empty bundle", func() (*x509.CertPool, error) { return x509.NewCertPool(), nil }, none},
		{"unreadable", func() (*x509.CertPool, error) { return nil, errors.New("permission denied") }, none + " (permission denied)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRoots(tt.load)
			if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNoCABundleRefusesToStart runs New where the machine's CA bundle is
// gone, as in an image built without one: the source refuses to start,
// naming the URL and what is missing. (The system pool is loaded once per
// process, hence the child process.)
func TestNoCABundleRefusesToStart(t *testing.T) {
	if os.Getenv("PRIMETIME_TEST_NO_ROOTS") == "1" {
		_, err := New(Config{APIKey: "k", AppKey: "a", Site: "datadoghq.eu"})
		want := "datadog: https://api.datadoghq.eu: no CA certificates to verify it with: the system's bundle (/etc/ssl/certs/ca-certificates.crt, or SSL_CERT_FILE and SSL_CERT_DIR) is missing or empty"
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %q", err, want)
		}
		_, err = New(Config{APIKey: "k", AppKey: "a", Endpoint: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatalf("a plain-HTTP endpoint (a proxy) needs no CA: %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoCABundleRefusesToStart$", "-test.v")
	cmd.Env = append(os.Environ(), "PRIMETIME_TEST_NO_ROOTS=1", "SSL_CERT_FILE=/nonexistent/ca.crt", "SSL_CERT_DIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := New(Config{APIKey: "k", AppKey: "a", Site: "datadoghq.eu"}); err != nil {
		t.Errorf("with this machine's bundle: %v", err)
	}
}
