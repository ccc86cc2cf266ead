package datadog

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// errNoRoots says why a Datadog site cannot be reached over HTTPS.
var errNoRoots = errors.New("no CA certificates to verify it with: the system's bundle (/etc/ssl/certs/ca-certificates.crt, or SSL_CERT_FILE and SSL_CERT_DIR) is missing or empty")

// checkRoots refuses to start a source that could never verify Datadog's
// certificate (an image without CA roots): one error at start-up rather
// than "x509: certificate signed by unknown authority" on every poll.
func checkRoots(load func() (*x509.CertPool, error)) error {
	pool, err := load()
	if err != nil {
		return fmt.Errorf("%w (%v)", errNoRoots, err)
	}
	//lint:ignore SA1019 the pool is the system's on Linux, whose subjects are known
	if pool == nil || len(pool.Subjects()) == 0 {
		return errNoRoots
	}
	return nil
}
