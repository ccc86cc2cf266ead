package ground_test

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/primetime-dev/primetime"

// importRule forbids packages under one path to import some others.
type importRule struct {
	name string
	// under is the package, with every package below it.
	under string
	// forbidden returns why an import is refused, or "".
	forbidden func(imp string) string
}

func within(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

// TestImportRules keeps the one-way flow of docs/architecture.md visible in
// the imports: ground speaks only the standard library; sources and
// policies never import each other; policies imports neither sources nor
// scaler.
func TestImportRules(t *testing.T) {
	rules := []importRule{
		{name: "ground imports only the standard library", under: module + "/ground", forbidden: func(imp string) string {
			if within(imp, module) {
				return "a package of the project"
			}
			if !isStandard(imp) {
				return "not the standard library (YAML, cron and decision code stay out of the vocabulary)"
			}
			return ""
		}},
		{name: "sources import only ground and their own clients", under: module + "/sources", forbidden: func(imp string) string {
			// e2e/testbed starts a real Prometheus for integration tests.
			if within(imp, module) && !within(imp, module+"/ground") && !within(imp, module+"/sources") && imp != module+"/e2e/testbed" {
				return "a package of the project other than ground"
			}
			return ""
		}},
		{name: "policies import neither sources nor scaler", under: module + "/policies", forbidden: func(imp string) string {
			for _, no := range []string{"/sources", "/scaler", "/simulate", "/cmd"} {
				if within(imp, module+no) {
					return "the flow goes policies -> scaler, never back"
				}
			}
			return ""
		}},
		{name: "the daemon imports neither simulate nor render", under: module + "/scaler", forbidden: func(imp string) string {
			for _, no := range []string{"/simulate", "/render", "/cmd"} {
				if within(imp, module+no) {
					return "the offline commands' packages stand above the daemon's"
				}
			}
			return ""
		}},
		{name: "render only writes: it imports ground and policies", under: module + "/render", forbidden: func(imp string) string {
			if within(imp, module) && !within(imp, module+"/ground") && !within(imp, module+"/policies") {
				return "a package that acts (render writes what others computed)"
			}
			return ""
		}},
		{name: "release stands apart: it builds the binary, it is not in it", under: module + "/release", forbidden: func(imp string) string {
			if within(imp, module) && !within(imp, module+"/release") {
				return "a package of the daemon (release stamps it with -ldflags -X, by name)"
			}
			return ""
		}},
		{name: "the binary leaves the release tooling out", under: module + "/cmd", forbidden: func(imp string) string {
			if within(imp, module+"/release") {
				return "the release tooling (go-containerregistry) would grow the binary in every image"
			}
			return ""
		}},
	}
	t.Run("the rules catch a bad import", func(t *testing.T) {
		bad := map[string][]string{
			module + "/ground":          {"fmt", "go.yaml.in/yaml/v3"},
			module + "/sources/datadog": {module + "/policies"},
			module + "/policies":        {module + "/scaler"},
		}
		got, _ := violations(bad, rules)
		want := []string{
			module + "/ground imports go.yaml.in/yaml/v3: not the standard library (YAML, cron and decision code stay out of the vocabulary)",
			module + "/policies imports " + module + "/scaler: the flow goes policies -> scaler, never back",
			module + "/sources/datadog imports " + module + "/policies: a package of the project other than ground",
		}
		if !slices.Equal(got, want) {
			t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	got, checked := violations(listPackages(t), rules)
	for _, v := range got {
		t.Error(v)
	}
	if checked < 8 {
		t.Fatalf("only %d packages checked: the package list is wrong", checked)
	}
}

// violations returns every import that breaks a rule, sorted, and how many
// packages the rules covered.
func violations(pkgs map[string][]string, rules []importRule) ([]string, int) {
	var out []string
	checked := 0
	for _, r := range rules {
		for pkg, imports := range pkgs {
			if !within(pkg, r.under) {
				continue
			}
			checked++
			for _, imp := range imports {
				if why := r.forbidden(imp); why != "" {
					out = append(out, pkg+" imports "+imp+": "+why)
				}
			}
		}
	}
	slices.Sort(out)
	return out, checked
}

// listPackages returns every package of the module with its imports,
// tests' imports included (a test may not break the flow either).
func listPackages(t *testing.T) map[string][]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, root+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkgs[f[0]] = f[1:]
	}
	return pkgs
}

func isStandard(imp string) bool {
	p, err := build.Default.Import(imp, "", build.FindOnly)
	return err == nil && p.Goroot
}
