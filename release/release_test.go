package release

import (
	"archive/tar"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

var testMeta = Meta{Version: "0.1.0", Commit: strings.Repeat("5a", 20), Time: time.Date(2026, 12, 6, 21, 15, 0, 0, time.FixedZone("CET", 3600))}

func testIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	ps := []Platform{{"linux", "amd64"}, {"linux", "arm64"}}
	images := map[Platform]v1.Image{}
	for _, p := range ps {
		img, err := Image(p, []byte("#!binary for "+p.Arch), testMeta)
		if err != nil {
			t.Fatal(err)
		}
		images[p] = img
	}
	idx, err := Index(testMeta, images, ps)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestTheSameMetaGivesTheSameDigests(t *testing.T) {
	a, err := DigestsOf(testIndex(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DigestsOf(testIndex(t))
	if a.String() != b.String() {
		t.Errorf("two builds differ:\n%s\n%s", a, b)
	}
	later := testMeta
	later.Time = later.Time.Add(time.Second)
	img, _ := Image(Platform{"linux", "amd64"}, []byte("#!binary for amd64"), later)
	d, _ := img.Digest()
	if d == a.Platforms[0].Digest {
		t.Errorf("another commit time gave the same digest %s", d)
	}
}

func TestImageConfig(t *testing.T) {
	idx := testIndex(t)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(im.Manifests))
	}
	for i, want := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		desc := im.Manifests[i]
		if p := desc.Platform; p.OS != want.OS || p.Architecture != want.Architecture || p.Variant != want.Variant {
			t.Errorf("manifest %d: platform %+v, want %+v", i, *desc.Platform, want)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/primetime" || strings.Join(c.Cmd, " ") != "serve" {
			t.Errorf("%s: user %q, entrypoint %q, cmd %q", want.Architecture, c.User, c.Entrypoint, c.Cmd)
		}
		if cf.Architecture != want.Architecture || cf.Variant != want.Variant || cf.OS != "linux" {
			t.Errorf("config platform %s/%s/%s", cf.OS, cf.Architecture, cf.Variant)
		}
		if got := cf.Created.UTC().Format(time.RFC3339); got != "2026-12-06T20:15:00Z" {
			t.Errorf("created %s, want the commit time 2026-12-06T20:15:00Z", got)
		}
		for k, v := range map[string]string{
			"org.opencontainers.image.version":  "0.1.0",
			"org.opencontainers.image.revision": testMeta.Commit,
			"org.opencontainers.image.created":  "2026-12-06T20:15:00Z",
			"org.opencontainers.image.source":   "https://github.com/primetime-dev/primetime",
		} {
			if c.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
			}
		}
		if cf.RootFS.Type != "layers" {
			t.Errorf("rootfs.type %q, want layers (umoci and BuildKit refuse anything else)", cf.RootFS.Type)
		}
		if n := len(cf.RootFS.DiffIDs); n != 2 || len(cf.History) != 2 || !cf.History[0].Created.Equal(testMeta.Time) {
			t.Errorf("%d layers, history %+v: want 2 layers dated by the commit", n, cf.History)
		}
	}
}

// entries reads every layer of the amd64 image: name -> header and body.
func entries(t *testing.T, idx v1.ImageIndex) map[string]struct {
	h    *tar.Header
	body []byte
} {
	t.Helper()
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]struct {
		h    *tar.Header
		body []byte
	}{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(tr)
			out[h.Name] = struct {
				h    *tar.Header
				body []byte
			}{h, body}
		}
		rc.Close()
	}
	return out
}

func TestImageFiles(t *testing.T) {
	files := entries(t, testIndex(t))
	for _, tt := range []struct {
		name     string
		mode     int64
		uid, gid int
	}{
		{"primetime", 0o755, 0, 0},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, 0, 0},
		{"etc/passwd", 0o644, 0, 0},
		{"home/nonroot/", 0o700, 65532, 65532},
		{"tmp/", 0o1777, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := files[tt.name]
			if !ok {
				t.Fatalf("not in the image")
			}
			if f.h.Mode != tt.mode || f.h.Uid != tt.uid || f.h.Gid != tt.gid || !f.h.ModTime.Equal(testMeta.Time) {
				t.Errorf("mode %o, owner %d:%d, mtime %s; want %o, %d:%d, the commit time", f.h.Mode, f.h.Uid, f.h.Gid, f.h.ModTime, tt.mode, tt.uid, tt.gid)
			}
		})
	}
	if string(files["primetime"].body) != "#!binary for amd64" {
		t.Errorf("the amd64 image holds %q", files["primetime"].body)
	}
	if !strings.Contains(string(files["etc/passwd"].body), "nonroot:x:65532:65532:") {
		t.Errorf("no nonroot user in /etc/passwd:\n%s", files["etc/passwd"].body)
	}
	t.Run("CA roots", func(t *testing.T) {
		rest, n := files["etc/ssl/certs/ca-certificates.crt"].body, 0
		for {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatalf("certificate %d: %v", n, err)
			}
			n++
		}
		if n < 100 {
			t.Errorf("%d CA certificates, want Mozilla's (over 100)", n)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"].body) {
			t.Error("Go cannot read the bundle")
		}
	})
}

func TestLayoutAndArchive(t *testing.T) {
	dir := t.TempDir()
	idx := testIndex(t)
	if err := WriteLayout(filepath.Join(dir, "image"), idx, testMeta); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(filepath.Join(dir, "image"))
	if err != nil {
		t.Fatal(err)
	}
	top, _ := p.ImageIndex()
	im, _ := top.IndexManifest()
	want, _ := idx.Digest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || im.Manifests[0].Annotations[RefName] != "0.1.0" {
		t.Fatalf("index.json %+v: want one entry, the index %s tagged 0.1.0", im.Manifests, want)
	}
	for _, name := range []string{"a.tar", "b.tar"} {
		if err := WriteArchive(filepath.Join(dir, name), filepath.Join(dir, "image"), testMeta); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "a.tar"))
	b, _ := os.ReadFile(filepath.Join(dir, "b.tar"))
	if string(a) != string(b) || len(a) == 0 {
		t.Errorf("two archives of one layout differ (%d and %d bytes)", len(a), len(b))
	}
	tr := tar.NewReader(strings.NewReader(string(a)))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if len(names) < 4 || names[0] != "blobs/" || !strings.Contains(strings.Join(names, " "), "index.json oci-layout") {
		t.Errorf("archive entries %v: want blobs/..., index.json, oci-layout at the top", names)
	}
}

func TestMetaValidate(t *testing.T) {
	ok := testMeta
	tests := []struct {
		name string
		edit func(*Meta)
		want string
	}{
		{"a release", func(*Meta) {}, ""},
		{"a development version", func(m *Meta) { m.Version = "0.0.0-dev.g51275c6717d8-dirty" }, ""},
		{"after a tag", func(m *Meta) { m.Version = "0.1.0-3-g51275c6717d8" }, ""},
		{"a leading v", func(m *Meta) { m.Version = "v0.1.0" }, `version "v0.1.0": want SemVer without a leading v or build metadata, such as 0.1.0 or 0.2.0-rc.1`},
		{"build metadata", func(m *Meta) { m.Version = "0.1.0+abc" }, `version "0.1.0+abc": want SemVer`},
		{"a short commit", func(m *Meta) { m.Commit = "51275c6" }, `commit "51275c6": want the full git commit (git rev-parse HEAD)`},
		{"no date", func(m *Meta) { m.Time = time.Time{} }, "date: want the commit's time (git log -1 --format=%cI)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParsePlatforms(t *testing.T) {
	ps, err := ParsePlatforms("linux/amd64, linux/arm64")
	if err != nil || len(ps) != 2 || ps[1].String() != "linux/arm64" {
		t.Errorf("got %v, %v", ps, err)
	}
	if _, err := ParsePlatforms("linux/amd64,windows/amd64"); err == nil || err.Error() != `platform "windows/amd64": want linux/amd64 or linux/arm64` {
		t.Errorf("got %v", err)
	}
}

func TestLDFlags(t *testing.T) {
	want := "-s -w -X github.com/primetime-dev/primetime/ground/buildinfo.version=0.1.0 -X github.com/primetime-dev/primetime/ground/buildinfo.commit=" +
		testMeta.Commit + " -X github.com/primetime-dev/primetime/ground/buildinfo.date=2026-12-06T20:15:00Z"
	if got := testMeta.LDFlags(); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
