// Package buildinfo says which primetime this is: the version, commit and
// build date stamped once at build time (make build, make image and make
// release pass them with -ldflags -X), read back by `primetime version`,
// the image's labels and the primetime_build_info metric.
//
// A binary built without the stamps (go install, go build) falls back on
// what the Go toolchain recorded: the module version and the VCS revision
// and time, when there are any.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// Stamped at build time with
//
//	-X github.com/primetime-dev/primetime/ground/buildinfo.version=0.1.0
//	-X github.com/primetime-dev/primetime/ground/buildinfo.commit=<sha>
//	-X github.com/primetime-dev/primetime/ground/buildinfo.date=<RFC 3339>
var version, commit, date string

// Info describes one build of primetime.
type Info struct {
	// Version is the release (0.1.0), a development version derived from
	// git (0.1.0-3-g1a2b3c4, 0.0.0-dev.g1a2b3c4) or "dev" when unknown.
	Version string `json:"version"`
	// Commit is the full git commit the binary was built from, or "".
	Commit string `json:"commit"`
	// BuildDate is the commit's time in UTC (RFC 3339), so that the same
	// commit always builds the same bytes; "" when unknown.
	BuildDate string `json:"buildDate"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Platform is the binary's GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns this binary's build information.
func Get() Info {
	return resolve(version, commit, date, debug.ReadBuildInfo)
}

// resolve fills what was not stamped from the Go toolchain's record.
func resolve(version, commit, date string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: version, Commit: commit, BuildDate: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = trimV(bi.Main.Version)
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.time" && info.BuildDate == "":
				info.BuildDate = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if t, err := time.Parse(time.RFC3339, info.BuildDate); err == nil {
		info.BuildDate = t.UTC().Format(time.RFC3339)
	}
	return info
}

func trimV(v string) string {
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

// String is the one-line form: "primetime 0.1.0 (commit 1a2b3c4d5e6f,
// built 2026-12-07T10:00:00Z, go1.26.8, linux/amd64)".
func (i Info) String() string {
	commit, built := i.Commit, i.BuildDate
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit == "" {
		commit = "unknown"
	}
	if built == "" {
		built = "unknown"
	}
	return fmt.Sprintf("primetime %s (commit %s, built %s, %s, %s)", i.Version, commit, built, i.GoVersion, i.Platform)
}
