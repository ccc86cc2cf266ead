package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"time"
)

// CA is a certificate authority made for one test run.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
}

// NewCA makes a self-signed CA.
func NewCA(t T, cn string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// IssueClient makes a client certificate for user cn in the given groups
// (the certificate's organizations, as Kubernetes reads them).
func (ca *CA) IssueClient(t T, cn string, groups ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.issue(t, pkix.Name{CommonName: cn, Organization: groups}, nil)
}

// Issue makes a certificate signed by the CA: a server certificate when
// hosts are given (DNS names or IPs), else a client certificate.
func (ca *CA) Issue(t T, cn string, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.issue(t, pkix.Name{CommonName: cn}, hosts)
}

// IssuePeer makes a certificate for both ends of a mutual TLS link (a
// server for hosts that is also a client), as KEDA's operator and metrics
// server share one.
func (ca *CA) IssuePeer(t T, cn string, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.issueUsage(t, pkix.Name{CommonName: cn}, hosts, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

func (ca *CA) issue(t T, subject pkix.Name, hosts []string) (certPEM, keyPEM []byte) {
	t.Helper()
	if len(hosts) > 0 {
		return ca.issueUsage(t, subject, hosts, x509.ExtKeyUsageServerAuth)
	}
	return ca.issueUsage(t, subject, nil, x509.ExtKeyUsageClientAuth)
}

func (ca *CA) issueUsage(t T, subject pkix.Name, hosts []string, usage ...x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: usage,
	}
	if len(hosts) > 0 {
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// rsaKeyPair makes the service account signing key and its public key.
func rsaKeyPair(t T) (privPEM, pubPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
}

// WriteFile writes data under dir and returns the path.
func WriteFile(t T, dir, name string, data []byte) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
