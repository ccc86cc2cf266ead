package release

import (
	"os"
	"path/filepath"
	"testing"
)

const changelog = `# Changelog

All notable changes are documented here.

## [Unreleased]

### Added
- something next

## [0.2.0-rc.1]

### Fixed
- not yet dated

## [0.1.0] - 2026-12-07

### Added
- The first release.

[Unreleased]: https://github.com/primetime-dev/primetime/compare/v0.1.0...HEAD
[0.1.0]: https://github.com/primetime-dev/primetime/releases/tag/v0.1.0
`

func TestNotes(t *testing.T) {
	tests := []struct {
		name, version, want, err string
	}{
		{"a dated entry, without the link references", "0.1.0", "### Added\n- The first release.\n", ""},
		{"no entry", "0.3.0", "", `CHANGELOG.md has no entry for 0.3.0: add "## [0.3.0] - YYYY-MM-DD" with what changed`},
		{"an undated entry", "0.2.0-rc.1", "", `CHANGELOG.md: the entry for 0.2.0-rc.1 has no date: "## [0.2.0-rc.1] - YYYY-MM-DD"`},
		{"Unreleased is not a version", "Unreleased", "", `CHANGELOG.md: the entry for Unreleased has no date: "## [Unreleased] - YYYY-MM-DD"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Notes([]byte(changelog), tt.version)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestTheProjectsChangelogHasItsReleases(t *testing.T) {
	b, err := os.ReadFile("../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Notes(b, "0.1.0"); err != nil {
		t.Error(err)
	}
}

func TestChecksums(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("primetime\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Checksums(dir, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	// what `printf 'primetime\n' | sha256sum` prints
	if want := "9d42ebca6b2db5401477c88a6883bb381e45d81b61647ff99b0ea1721288439f  a\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
