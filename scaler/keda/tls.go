package keda

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLSFiles names the files of the KEDA endpoint's TLS: the serving
// certificate and key KEDA verifies with the trigger's caCert, and
// optionally the CA of the client certificates KEDA must present
// (tlsClientCert / tlsClientKey).
type TLSFiles struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, makes a client certificate signed by it
	// required.
	ClientCAFile string
}

// ServerTLS returns the TLS configuration of the KEDA endpoint. The files
// are read now (an error names the file) and again at a handshake after
// one of them changed, so that a rotated certificate (cert-manager, the
// chart's Secret) is served without a restart; a rotation caught half
// written keeps the last good set.
func ServerTLS(f TLSFiles) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("a serving certificate and key are needed (KEDA's caCert verifies them)")
	}
	r := &reloader{files: f}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.config(), nil
		},
	}, nil
}

// reloader holds the last good certificate and client CA, and the state
// of the files they came from.
type reloader struct {
	files TLSFiles
	mu    sync.Mutex
	seen  []fileState
	cfg   *tls.Config
}

type fileState struct {
	size int64
	mod  time.Time
}

func (r *reloader) paths() []string {
	p := []string{r.files.CertFile, r.files.KeyFile}
	if r.files.ClientCAFile != "" {
		p = append(p, r.files.ClientCAFile)
	}
	return p
}

// states returns the size and modification time of each file.
func (r *reloader) states() ([]fileState, error) {
	var out []fileState
	for _, p := range r.paths() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out = append(out, fileState{size: fi.Size(), mod: fi.ModTime()})
	}
	return out, nil
}

// load reads the files into a new configuration.
func (r *reloader) load() error {
	seen, err := r.states()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.files.CertFile, r.files.KeyFile)
	if err != nil {
		return fmt.Errorf("serving certificate %s / %s: %w", r.files.CertFile, r.files.KeyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: tls.NoClientCert}
	if r.files.ClientCAFile != "" {
		pem, err := os.ReadFile(r.files.ClientCAFile)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client CA %s: no PEM certificate in it", r.files.ClientCAFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	r.mu.Lock()
	r.seen, r.cfg = seen, cfg
	r.mu.Unlock()
	return nil
}

// config returns the configuration for a handshake, reloaded first if a
// file changed since it was read.
func (r *reloader) config() *tls.Config {
	r.mu.Lock()
	seen, cfg := r.seen, r.cfg
	r.mu.Unlock()
	if now, err := r.states(); err == nil && !sameStates(now, seen) {
		if r.load() == nil {
			r.mu.Lock()
			cfg = r.cfg
			r.mu.Unlock()
		}
	}
	return cfg
}

func sameStates(a, b []fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].size != b[i].size || !a[i].mod.Equal(b[i].mod) {
			return false
		}
	}
	return true
}
