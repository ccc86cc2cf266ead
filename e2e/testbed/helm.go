package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Helm returns the pinned helm, built by charts/install-helm.sh. Without
// RequireEnv (or PRIMETIME_BUILD_TOOLS=1) a missing helm skips the test
// instead of taking minutes to build it.
func Helm(t T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "charts", "install-helm.sh")
	if os.Getenv(RequireEnv) != "1" && os.Getenv("PRIMETIME_BUILD_TOOLS") != "1" {
		out, err := exec.Command("bash", "-c", `d="${PRIMETIME_CACHE:-$HOME/.cache/primetime}/helm-v4.3.1"; [ -x "$d/helm" ] && echo "$d/helm"`).Output()
		if err != nil {
			t.Skipf("helm is not built; run charts/install-helm.sh, or set %s=1", RequireEnv)
		}
		return strings.TrimSpace(string(out))
	}
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("charts/install-helm.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}
