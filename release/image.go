package release

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Labels are the OCI annotations of an image built from m, set as the
// config's labels and as the manifest's and index's annotations.
func Labels(m Meta) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "primetime",
		"org.opencontainers.image.description": "Pre-scales Kubernetes workloads before known traffic spikes",
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.url":         Source,
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Commit,
		"org.opencontainers.image.created":     m.Date(),
	}
}

// Image is primetime's image for p: a layer of base files (CA roots,
// nonroot user, /tmp) and a layer holding binary, run as 65532:65532 with
// `serve` as its default command. The base layer is the same for every
// version, so a registry keeps one copy of it.
func Image(p Platform, binary []byte, m Meta) (v1.Image, error) {
	base, err := layerTar(baseFiles(), m.Time)
	if err != nil {
		return nil, err
	}
	app, err := layerTar([]file{{name: Entrypoint[1:], mode: 0o755, body: binary}}, m.Time)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: m.Time.UTC()}
	cfg := &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Variant:      p.variant(),
		Created:      created,
		Author:       Source,
		RootFS:       v1.RootFS{Type: "layers"}, // the spec's only value; mutate fills the diff IDs
		Config: v1.Config{
			User:         User,
			Entrypoint:   []string{Entrypoint},
			Cmd:          []string{"serve"},
			Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + CABundle},
			WorkingDir:   "/",
			ExposedPorts: map[string]struct{}{"6443/tcp": {}, "8080/tcp": {}},
			Labels:       Labels(m),
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range []struct {
		body []byte
		by   string
	}{
		{base, "primetime release: CA roots, nonroot user, /tmp"},
		{app, fmt.Sprintf("primetime release: %s %s for %s", Entrypoint, m.Version, p)},
	} {
		layer, err := layerOf(l.body)
		if err != nil {
			return nil, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: l.by}})
		if err != nil {
			return nil, err
		}
	}
	return mutate.Annotations(img, Labels(m)).(v1.Image), nil
}

// layerOf compresses an uncompressed layer once, at gzip's best (the
// binary is most of the image's size and is pulled on every new node).
func layerOf(body []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

// Index is the multi-platform image: one manifest per platform, in the
// order given.
func Index(m Meta, images map[Platform]v1.Image, order []Platform) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range order {
		img, ok := images[p]
		if !ok {
			return nil, fmt.Errorf("no image for %s", p)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1,
			Platform:  &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.variant()},
		}})
	}
	return mutate.Annotations(idx, Labels(m)).(v1.ImageIndex), nil
}
