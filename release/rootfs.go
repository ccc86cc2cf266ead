package release

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's user, as in distroless' nonroot: no shell, no password.
const (
	UID, GID = 65532, 65532
	// User is the image config's user.
	User = "65532:65532"
	// Entrypoint is where the binary lies in the image.
	Entrypoint = "/primetime"
	// CABundle is where Go (and OpenSSL, curl) look for CA roots on Linux.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
)

// file is one entry of a layer.
type file struct {
	name     string // without the leading slash
	mode     fs.FileMode
	uid, gid int
	body     []byte // nil for a directory
}

// baseFiles is what every primetime image holds besides the binary: the
// CA roots Datadog's HTTPS API is verified with (Mozilla's, as the Go
// project ships them, pinned by go.sum), the nonroot user and group, a
// world-writable /tmp and the user's home. Time zones are compiled into
// the binary (time/tzdata), so there is no /usr/share/zoneinfo.
func baseFiles() []file {
	return []file{
		{name: "etc/", mode: fs.ModeDir | 0o755},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/nsswitch.conf", mode: 0o644, body: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: fs.ModeDir | 0o755},
		{name: "etc/ssl/certs/", mode: fs.ModeDir | 0o755},
		{name: CABundle[1:], mode: 0o644, body: caBundle()},
		{name: "home/", mode: fs.ModeDir | 0o755},
		{name: "home/nonroot/", mode: fs.ModeDir | 0o700, uid: UID, gid: GID},
		{name: "tmp/", mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}
}

// caBundle is every root of the Mozilla NSS trust store as PEM.
func caBundle() []byte {
	var b bytes.Buffer
	b.WriteString("# Mozilla's NSS roots, from golang.org/x/crypto/x509roots/fallback/bundle.\n")
	for r := range bundle.Roots() {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return b.Bytes()
}

// layerTar writes files as a layer: owners numeric, names sorted as given,
// every time mtime, nothing taken from the machine it runs on.
func layerTar(files []file, mtime time.Time) ([]byte, error) {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: int64(f.mode.Perm()), Uid: f.uid, Gid: f.gid, ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatPAX}
		if f.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.mode.IsDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.name, err)
		}
		if _, err := w.Write(f.body); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", f.name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
