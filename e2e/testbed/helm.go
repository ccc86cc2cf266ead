package testbed

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// BuildEnv, when set to 1, lets a test build a missing tool (Kubernetes,
// helm) even without RequireEnv.
const BuildEnv = "PRIMETIME_BUILD_TOOLS"

// Helm returns the pinned helm, built once by charts/install-helm.sh.
func Helm(t T) string {
	t.Helper()
	return cachedTool(t, filepath.Join("charts", "install-helm.sh"), "helm")
}

// KubeBinaries returns the directory holding kube-apiserver,
// kube-controller-manager and kubectl, built once by e2e/kube/build.sh.
func KubeBinaries(t T) string {
	t.Helper()
	return cachedTool(t, filepath.Join("e2e", "kube", "build.sh"), "the Kubernetes commands")
}

// KEDA returns the directory holding KEDA's operator (keda), its metrics
// server (keda-adapter) and its CRDs (crd/), built once by
// e2e/keda/build.sh.
func KEDA(t T) string {
	t.Helper()
	return cachedTool(t, filepath.Join("e2e", "keda", "build.sh"), "KEDA's operator and metrics server")
}

// cachedTool runs a build script of the repository (a path from its root)
// that prints, as its last line, where the tool it builds once and caches
// is. Without RequireEnv or BuildEnv a tool not built yet skips the test
// instead of taking minutes to build.
func cachedTool(t T, script, what string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", script)
	build := os.Getenv(RequireEnv) == "1" || os.Getenv(BuildEnv) == "1"
	args := []string{path}
	if !build {
		args = append(args, "--cached")
	}
	cmd := exec.Command("bash", args...)
	cmd.Stderr = os.Stderr // a build's progress
	out, err := cmd.Output()
	switch {
	case err != nil && !build:
		t.Skipf("%s not built; run %s, or set %s=1", what, script, RequireEnv)
	case err != nil:
		t.Fatalf("%s: %v", script, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
