package stage

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/primetime-dev/primetime/e2e/testbed"
)

// Image is primetime's image unpacked as a container runtime would for
// this machine's platform: its layers applied in order to a root
// filesystem, and its config. Run and StartPrimetimeImage run its
// entrypoint chrooted there, as its user, with its environment alone, so
// that what is missing from the image (a CA bundle, a dynamic loader, a
// writable path) fails here as it would in a pod.
type Image struct {
	// Root is the unpacked root filesystem.
	Root string
	// Digest is the platform manifest's digest.
	Digest string
	// Config is the image's config: user, entrypoint, command, env, labels.
	Config ImageConfig
	// Layers is the size of each compressed layer, in bytes.
	Layers []int64
	uid    uint32
	gid    uint32
}

// ImageConfig is the part of an OCI image config a runtime uses.
type ImageConfig struct {
	User       string            `json:"User"`
	Entrypoint []string          `json:"Entrypoint"`
	Cmd        []string          `json:"Cmd"`
	Env        []string          `json:"Env"`
	WorkingDir string            `json:"WorkingDir"`
	Labels     map[string]string `json:"Labels"`
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

// UnpackImage reads the OCI layout in dir (what make image writes under
// dist/image): index.json, then the multi-platform index it points to,
// then this platform's manifest, config and layers, each blob checked
// against its digest. The root filesystem is then made read-only but for
// /tmp, as the chart runs it (readOnlyRootFilesystem, an emptyDir on /tmp).
func UnpackImage(t testbed.T, dir string) *Image {
	t.Helper()
	im, err := unpack(dir, t.TempDir())
	if err != nil {
		t.Fatalf("image %s: %v", dir, err)
	}
	// The runtime mounts /proc (process metrics, the CPU quota read
	// from cgroups); without it, client-go and the Go collector complain.
	proc := filepath.Join(im.Root, "proc")
	if err := os.Mkdir(proc, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", proc, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		t.Logf("no /proc in the image's root: %v", err)
	} else {
		t.Cleanup(func() { _ = syscall.Unmount(proc, syscall.MNT_DETACH) })
	}
	return im
}

func unpack(dir, root string) (*Image, error) {
	blob := func(d descriptor, v any) ([]byte, error) {
		b, err := readBlob(dir, d)
		if err == nil && v != nil {
			err = json.Unmarshal(b, v)
		}
		return b, err
	}
	var top struct{ Manifests []descriptor }
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		return nil, fmt.Errorf("index.json: want one multi-platform index, got %+v", top.Manifests)
	}
	var idx struct{ Manifests []descriptor }
	if _, err := blob(top.Manifests[0], &idx); err != nil {
		return nil, err
	}
	var mine *descriptor
	for i, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
			mine = &idx.Manifests[i]
		}
	}
	if mine == nil {
		return nil, fmt.Errorf("no manifest for linux/%s", runtime.GOARCH)
	}
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	if _, err := blob(*mine, &manifest); err != nil {
		return nil, err
	}
	var cfg struct{ Config ImageConfig }
	if _, err := blob(manifest.Config, &cfg); err != nil {
		return nil, err
	}
	im := &Image{Root: filepath.Join(root, "rootfs"), Digest: mine.Digest, Config: cfg.Config}
	if err := os.Mkdir(im.Root, 0o755); err != nil {
		return nil, err
	}
	for _, l := range manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			return nil, fmt.Errorf("layer %s: media type %s", l.Digest, l.MediaType)
		}
		b, err := blob(l, nil)
		if err != nil {
			return nil, err
		}
		if err := applyLayer(im.Root, b); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		im.Layers = append(im.Layers, l.Size)
	}
	uid, gid, ok := strings.Cut(cfg.Config.User, ":")
	u, err1 := strconv.ParseUint(uid, 10, 32)
	g, err2 := strconv.ParseUint(gid, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q: want numeric uid:gid (Kubernetes' runAsNonRoot needs a numeric user)", cfg.Config.User)
	}
	im.uid, im.gid = uint32(u), uint32(g)
	return im, readOnlyButTmp(im.Root)
}

func readBlob(dir string, d descriptor) ([]byte, error) {
	algo, hexDigest, ok := strings.Cut(d.Digest, ":")
	if !ok || algo != "sha256" {
		return nil, fmt.Errorf("digest %q", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", algo, hexDigest))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexDigest || int64(len(b)) != d.Size {
		return nil, fmt.Errorf("blob %s: its content does not match its digest and size", d.Digest)
	}
	return b, nil
}

// applyLayer extracts a gzipped tar layer into root with its owners and
// modes; what this image never holds (whiteouts, devices, paths out of
// the root) is refused.
func applyLayer(root string, layer []byte) error {
	zr, err := gzip.NewReader(strings.NewReader(string(layer)))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) || strings.HasPrefix(filepath.Base(name), ".wh.") {
			return fmt.Errorf("entry %q: not a plain path inside the image", h.Name)
		}
		path := filepath.Join(root, name)
		mode := fs.FileMode(h.Mode).Perm()
		if h.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, path); err != nil {
				return err
			}
			if err := os.Lchown(path, h.Uid, h.Gid); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("entry %q: type %c", h.Name, h.Typeflag)
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
		if err := os.Lchown(path, h.Uid, h.Gid); err != nil {
			return err
		}
	}
}

// readOnlyButTmp takes every write permission away but /tmp's, as a
// read-only root filesystem with an emptyDir on /tmp would.
func readOnlyButTmp(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == filepath.Join(root, "tmp") {
			return fs.SkipDir
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Chmod(path, st.Mode()&^0o222&(fs.ModePerm|fs.ModeSticky))
	})
}

// Mount puts a copy of the host file at path inside the image, readable
// by everyone, as a ConfigMap or Secret volume would; it returns path.
func (im *Image) Mount(t testbed.T, host, path string) string {
	t.Helper()
	b, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(im.Root, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o444); err != nil {
		t.Fatal(err)
	}
	return path
}

// Command is the image's entrypoint with args (in place of its default
// command, as a pod's args are), chrooted into the image as its user with
// its environment and env added.
func (im *Image) Command(env []string, args ...string) *exec.Cmd {
	c := im.Config
	cmd := &exec.Cmd{
		Path: c.Entrypoint[0],
		Args: append(append([]string{}, c.Entrypoint...), args...),
		Env:  append(append([]string{}, c.Env...), env...),
		Dir:  c.WorkingDir,
		SysProcAttr: &syscall.SysProcAttr{
			Chroot:     im.Root,
			Credential: &syscall.Credential{Uid: im.uid, Gid: im.gid, Groups: []uint32{}},
		},
	}
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	return cmd
}

// Run runs the image's entrypoint with args and returns what it printed.
func (im *Image) Run(t testbed.T, env []string, args ...string) (string, error) {
	t.Helper()
	out, err := im.Command(env, args...).CombinedOutput()
	return string(out), err
}

// StartPrimetimeImage is StartPrimetimeEnv with the image's entrypoint in
// place of a binary built on the host: the image's default command
// (serve) and the scenario's flags, the kubeconfig and serving certificate
// mounted into the image.
func StartPrimetimeImage(t testbed.T, c *testbed.Cluster, namespace string, im *Image, env []string, extra ...string) *Primetime {
	t.Helper()
	if len(im.Config.Cmd) != 1 || im.Config.Cmd[0] != "serve" {
		t.Fatalf("the image's command is %q, want [serve]", im.Config.Cmd)
	}
	cert := newServingCert(t)
	port := testbed.FreePort(t)
	extra = register(t, c, namespace, port, cert, extra)
	inImage := servingCert{ca: cert.ca,
		certFile: im.Mount(t, cert.certFile, "/var/run/serving-cert/tls.crt"),
		keyFile:  im.Mount(t, cert.keyFile, "/var/run/serving-cert/tls.key")}
	kubeconfig := im.Mount(t, c.Kubeconfig, "/var/run/kubeconfig/config")
	p := launch(t, kubeconfig, port, inImage, extra, func(args []string) *testbed.Process {
		return testbed.StartCmd(t, im.Command(env, args...))
	})
	p.CertFile, p.KeyFile = cert.certFile, cert.keyFile
	return p
}
