package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options says what Build makes.
type Options struct {
	// Root is the module's directory.
	Root string
	// Out is the output directory (dist).
	Out string
	// Platforms are built in this order; the index lists them so.
	Platforms []Platform
	Meta      Meta
}

// Artifacts are the files Build wrote, relative to Options.Out.
type Artifacts struct {
	// Binaries holds one static binary per platform:
	// primetime-VERSION-linux-ARCH.
	Binaries []string
	// Layout is the OCI image layout directory (image).
	Layout string
	// Archive is the layout as an OCI archive: primetime-VERSION.oci.tar.
	Archive string
	// DigestsFile lists the digests: primetime-VERSION.digests.
	DigestsFile string
	Digests     Digests
}

// Build builds the binaries and the image of o.Meta for every platform.
func Build(ctx context.Context, o Options) (Artifacts, error) {
	if err := o.Meta.Validate(); err != nil {
		return Artifacts{}, err
	}
	if len(o.Platforms) == 0 {
		return Artifacts{}, fmt.Errorf("no platform to build")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Artifacts{}, err
	}
	var a Artifacts
	images := map[Platform]v1.Image{}
	for _, p := range o.Platforms {
		name := fmt.Sprintf("primetime-%s-%s-%s", o.Meta.Version, p.OS, p.Arch)
		bin := filepath.Join(o.Out, name)
		if err := BuildBinary(ctx, o.Root, p, o.Meta, bin); err != nil {
			return a, err
		}
		body, err := os.ReadFile(bin)
		if err != nil {
			return a, err
		}
		if images[p], err = Image(p, body, o.Meta); err != nil {
			return a, fmt.Errorf("image for %s: %w", p, err)
		}
		a.Binaries = append(a.Binaries, name)
	}
	idx, err := Index(o.Meta, images, o.Platforms)
	if err != nil {
		return a, err
	}
	a.Layout = "image"
	if err := WriteLayout(filepath.Join(o.Out, a.Layout), idx, o.Meta); err != nil {
		return a, fmt.Errorf("OCI layout: %w", err)
	}
	a.Archive = fmt.Sprintf("primetime-%s.oci.tar", o.Meta.Version)
	if err := WriteArchive(filepath.Join(o.Out, a.Archive), filepath.Join(o.Out, a.Layout), o.Meta); err != nil {
		return a, fmt.Errorf("OCI archive: %w", err)
	}
	if a.Digests, err = DigestsOf(idx); err != nil {
		return a, err
	}
	a.DigestsFile = fmt.Sprintf("primetime-%s.digests", o.Meta.Version)
	return a, os.WriteFile(filepath.Join(o.Out, a.DigestsFile), []byte(a.Digests.String()), 0o644)
}
