package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/primetime-dev/primetime/e2e/stage"
	"github.com/primetime-dev/primetime/e2e/testbed"
	"github.com/primetime-dev/primetime/ground/buildinfo"
)

var distOnce struct {
	sync.Once
	dir, version string
	err          error
}

// dist is the directory make image and make chart wrote (make test and
// make e2e pass it as PRIMETIME_DIST, with the VERSION they stamped);
// without it, this platform's image and the chart are built here with
// the same make targets.
func dist(t *testing.T) (dir, version string) {
	t.Helper()
	distOnce.Do(func() {
		if d := os.Getenv("PRIMETIME_DIST"); d != "" {
			distOnce.dir, distOnce.version = d, os.Getenv("PRIMETIME_VERSION")
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..")
		out, err := os.MkdirTemp("", "primetime-e2e-dist")
		if err != nil {
			distOnce.err = err
			return
		}
		v, err := exec.Command("bash", filepath.Join(root, "release", "version.sh")).Output()
		if err != nil {
			distOnce.err = fmt.Errorf("release/version.sh: %v", err)
			return
		}
		distOnce.dir, distOnce.version = out, strings.TrimSpace(string(v))
		cmd := exec.Command("make", "--no-print-directory", "image", "chart", "DIST="+out, "PLATFORMS=linux/"+runtime.GOARCH, "VERSION="+distOnce.version)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			distOnce.err = fmt.Errorf("make image chart: %v\n%s", err, b)
		}
	})
	if distOnce.err != nil {
		t.Fatal(distOnce.err)
	}
	return distOnce.dir, distOnce.version
}

// TestImage runs what an SRE installs: the image's own layers, unpacked
// from the OCI layout make image wrote, its entrypoint run chrooted there
// as the image's user (65532) with the image's environment alone and a
// root filesystem writable only in /tmp (the chart's readOnlyRootFilesystem
// and emptyDir). The packaged chart names that image's tag, equal to the
// chart's appVersion and to what the image's `primetime version` prints;
// the image's daemon, with Datadog configured (its HTTPS API needs the
// image's CA roots) and a window written in Europe/Paris time (the image
// has no zoneinfo on disk), raises a real HPA through its external metric
// before the window. Without the CA bundle the same daemon refuses to
// start, naming what is missing.
func TestImage(t *testing.T) {
	if os.Geteuid() != 0 {
		// chroot and running as another user need root, as a kubelet has.
		if os.Getenv(testbed.RequireEnv) == "1" {
			t.Fatal("TestImage runs the image chrooted as its user: it needs root")
		}
		t.Skipf("TestImage needs root (chroot, setuid); set %s=1 to make this a failure", testbed.RequireEnv)
	}
	scenario(t)
	dir, version := dist(t)
	im := stage.UnpackImage(t, filepath.Join(dir, "image"))
	t.Logf("image for linux/%s: %s, compressed layers %v bytes", runtime.GOARCH, im.Digest, im.Layers)

	t.Run("version", func(t *testing.T) {
		out, err := im.Run(t, nil, "version", "--output", "json")
		if err != nil {
			t.Fatalf("primetime version in the image: %v\n%s", err, out)
		}
		var info buildinfo.Info
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		labels := im.Config.Labels
		want := buildinfo.Info{Version: version, Commit: labels["org.opencontainers.image.revision"], BuildDate: labels["org.opencontainers.image.created"],
			GoVersion: runtime.Version(), Platform: "linux/" + runtime.GOARCH}
		if info != want || labels["org.opencontainers.image.version"] != version || len(info.Commit) != 40 {
			t.Errorf("the image's primetime version says %+v, its labels %v; want %+v", info, labels, want)
		}
	})

	t.Run("chart", func(t *testing.T) {
		helm := testbed.Helm(t)
		chart := filepath.Join(dir, "primetime-"+version+".tgz")
		if out, err := exec.Command(helm, "lint", "--strict", chart).CombinedOutput(); err != nil {
			t.Fatalf("helm lint %s: %v\n%s", chart, err, out)
		}
		out, err := exec.Command(helm, "show", "chart", chart).Output()
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Version, AppVersion string }
		if err := yaml.Unmarshal(out, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Version != version || meta.AppVersion != version {
			t.Errorf("the packaged chart is version %q, appVersion %q; want %q for both", meta.Version, meta.AppVersion, version)
		}
		out, err = exec.Command(helm, "template", "pt", chart, "--namespace", "primetime").CombinedOutput()
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		wantImage := "image: ghcr.io/primetime-dev/primetime:" + version
		images := grepLines(string(out), "image: ghcr.io/primetime-dev/primetime")
		if images == "" || strings.Trim(strings.ReplaceAll(images, wantImage, ""), "\n") != "" {
			t.Errorf("helm template names the images\n%s\nwant %q", images, wantImage)
		}
	})

	t.Run("serve", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := stage.New(t, ctx, stage.Options{Rate: 50, Startup: 5 * time.Second, Cluster: sharedCluster(t), Namespace: "image"})
		s.Deploy(t, ctx, 5, 2, 50)
		paris, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now().Add(100 * time.Second).Truncate(time.Second)
		s.Configure(t, ctx, stage.WebTarget("1m", "metric"), fmt.Sprintf(`timezone: Europe/Paris
windows:
  - name: launch
    start: %q
    duration: 1m
    replicas: 12
    targets: [%s/web]
`, start.In(paris).Format("2006-01-02 15:04:05"), s.NS))
		dd := []string{"DD_API_KEY=e2e-api-key", "DD_APP_KEY=e2e-app-key", "DD_SITE=datadoghq.eu"}
		p := stage.StartPrimetimeImage(t, s.C, s.NS, im, dd, "--prometheus-url="+s.Prom.URL, "--interval=5s")
		if uid := procUID(t, p.Pid()); uid != "65532" {
			t.Errorf("the daemon runs as uid %s, want 65532", uid)
		}
		if !strings.Contains(p.Output(), `"msg":"datadog: querying","url":"https://api.datadoghq.eu"`) {
			t.Errorf("no Datadog source over HTTPS in the log:\n%s", p.Output())
		}
		testbed.Eventually(t, time.Until(start), time.Second, func() (bool, string) {
			spec, ready := s.Replicas(ctx)
			v, err := s.Value(ctx, "primetime_replicas")
			return spec >= 12, fmt.Sprintf("primetime_replicas %s (%v), the Deployment at %d (%d ready)", v, err, spec, ready)
		})
		t.Logf("the HPA took the Deployment to 12 replicas %s before the window, from the image's daemon", time.Until(start).Round(time.Second))
		if strings.Contains(p.Output(), "permission denied") || strings.Contains(p.Output(), "read-only file system") {
			t.Errorf("the daemon tried to write outside /tmp:\n%s", grepLines(p.Output(), "permission denied"))
		}

		// The same image without its CA bundle: Datadog could never be
		// verified, and the daemon says so at once instead of serving.
		// (Out of the image: Go reads every file of /etc/ssl/certs.)
		bundle, gone := filepath.Join(im.Root, "etc", "ssl", "certs", "ca-certificates.crt"), filepath.Join(filepath.Dir(im.Root), "ca-certificates.crt")
		if err := os.Rename(bundle, gone); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(gone, bundle)
		cmd := im.Command(dd, "serve", "--kubeconfig=/var/run/kubeconfig/config", "--bind-address=127.0.0.1",
			fmt.Sprintf("--secure-port=%d", testbed.FreePort(t)), fmt.Sprintf("--metrics-addr=127.0.0.1:%d", testbed.FreePort(t)),
			"--tls-cert-file=/var/run/serving-cert/tls.crt", "--tls-private-key-file=/var/run/serving-cert/tls.key",
			"--namespace=primetime", "--watch-namespaces="+s.NS)
		timer := time.AfterFunc(time.Minute, func() {
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		})
		out, err := cmd.CombinedOutput()
		timer.Stop()
		var exit *exec.ExitError
		want := "primetime: datadog: https://api.datadoghq.eu: no CA certificates to verify it with"
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), want) {
			t.Errorf("without the CA bundle: %v, want exit 2 and %q:\n%s", err, want, out)
		}
	})
}

// procUID is the real uid a process runs as.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "\n")
}
