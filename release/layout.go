package release

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// RefName is the annotation that names an image in an OCI layout: skopeo's
// oci:DIR:TAG and oci-archive:FILE:TAG read it.
const RefName = "org.opencontainers.image.ref.name"

// WriteLayout writes idx as an OCI image layout in dir (emptied first):
// index.json points to the multi-platform index, tagged m.Version, so that
// `crane push DIR REF` pushes the index and `skopeo copy oci:DIR:TAG`
// finds it.
func WriteLayout(dir string, idx v1.ImageIndex, m Meta) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefName: m.Version}))
}

// WriteArchive writes the layout in dir as an OCI archive (a tar of the
// layout, what `skopeo copy oci-archive:FILE docker://REF` publishes):
// entries sorted, owned by 0:0, dated m.Time.
func WriteArchive(file, dir string, m Meta) error {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	defer out.Close()
	w := tar.NewWriter(out)
	for _, path := range names {
		if err := addToArchive(w, dir, path, m); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Close()
}

func addToArchive(w *tar.Writer, dir, path string, m Meta) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: m.Time.UTC(), Format: tar.FormatPAX}
	switch {
	case st.IsDir():
		h.Name, h.Typeflag, h.Mode = h.Name+"/", tar.TypeDir, 0o755
	case st.Mode().IsRegular():
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, st.Size()
	default:
		return fmt.Errorf("%s: not a file nor a directory", path)
	}
	if err := w.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// Digests names what was built: the index and each platform's manifest.
type Digests struct {
	Index     v1.Hash
	Platforms []PlatformDigest
}

// PlatformDigest is one platform's manifest digest.
type PlatformDigest struct {
	Platform Platform
	Digest   v1.Hash
}

// DigestsOf reads the digests of idx.
func DigestsOf(idx v1.ImageIndex) (Digests, error) {
	h, err := idx.Digest()
	if err != nil {
		return Digests{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Digests{}, err
	}
	d := Digests{Index: h}
	for _, desc := range im.Manifests {
		d.Platforms = append(d.Platforms, PlatformDigest{Platform{desc.Platform.OS, desc.Platform.Architecture}, desc.Digest})
	}
	return d, nil
}

// String is one line a digest, the index first:
//
//	index        sha256:...
//	linux/amd64  sha256:...
func (d Digests) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %s\n", "index", d.Index)
	for _, p := range d.Platforms {
		fmt.Fprintf(&b, "%-12s %s\n", p.Platform, p.Digest)
	}
	return b.String()
}
