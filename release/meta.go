package release

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Module is primetime's Go module path.
const Module = "github.com/primetime-dev/primetime"

// Source is where the image's source label points.
const Source = "https://github.com/primetime-dev/primetime"

// Meta is what is stamped into a release's binaries and image.
type Meta struct {
	// Version is the release (0.1.0) or a development version from git
	// (0.1.0-3-g1a2b3c4, 0.0.0-dev.g1a2b3c4): SemVer 2, without a leading
	// v, usable as an image tag and a chart version.
	Version string
	// Commit is the full git commit.
	Commit string
	// Time is the commit's time: the build date and every timestamp of
	// the image.
	Time time.Time
}

// semver is SemVer 2.0 without build metadata ("+..." is not a valid
// image tag).
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?$`)

// commitSHA is a full SHA-1 or SHA-256 git object name.
var commitSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// Validate says what is wrong with m, naming the field.
func (m Meta) Validate() error {
	var errs []error
	if !semver.MatchString(m.Version) {
		errs = append(errs, fmt.Errorf("version %q: want SemVer without a leading v or build metadata, such as 0.1.0 or 0.2.0-rc.1", m.Version))
	}
	if !commitSHA.MatchString(m.Commit) {
		errs = append(errs, fmt.Errorf("commit %q: want the full git commit (git rev-parse HEAD)", m.Commit))
	}
	if m.Time.IsZero() {
		errs = append(errs, errors.New("date: want the commit's time (git log -1 --format=%cI)"))
	}
	return errors.Join(errs...)
}

// Date is the build date as stamped: the commit time in UTC, RFC 3339.
func (m Meta) Date() string { return m.Time.UTC().Format(time.RFC3339) }

// LDFlags are the linker flags that stamp m into the binary's
// ground/buildinfo, with the symbol table and DWARF left out (panics
// still print their stacks).
func (m Meta) LDFlags() string {
	const pkg = Module + "/ground/buildinfo"
	return fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s -X %s.date=%s", pkg, m.Version, pkg, m.Commit, pkg, m.Date())
}
