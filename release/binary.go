package release

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Platform is an operating system and architecture an image is built for.
type Platform struct {
	OS, Arch string
}

// ParsePlatforms reads "linux/amd64,linux/arm64".
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	for _, p := range strings.Split(s, ",") {
		os, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || os != "linux" || (arch != "amd64" && arch != "arm64") {
			return nil, fmt.Errorf("platform %q: want linux/amd64 or linux/arm64", p)
		}
		out = append(out, Platform{OS: os, Arch: arch})
	}
	return out, nil
}

// String is "linux/arm64".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// variant is the OCI platform variant: v8 for arm64, as registries and
// runtimes expect it.
func (p Platform) variant() string {
	if p.Arch == "arm64" {
		return "v8"
	}
	return ""
}

// BuildBinary builds ./cmd/primetime of the module at root for p into out:
// static (no cgo), paths trimmed, m stamped, and the target's baseline
// instruction set pinned so that the host's GOAMD64 or GOARM64 cannot
// change the bytes.
func BuildBinary(ctx context.Context, root string, p Platform, m Meta, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags", m.LDFlags(), "-o", out, "./cmd/primetime")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOAMD64=v1", "GOARM64=v8.0", "GOFLAGS=", "GOEXPERIMENT=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s: %v\n%s", p, err, b)
	}
	return nil
}
