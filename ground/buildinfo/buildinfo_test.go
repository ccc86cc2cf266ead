package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	goVersion, platform := runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
	toolchain := func(version string, settings ...debug.BuildSetting) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: version}, Settings: settings}, true
		}
	}
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "feedface"}, {Key: "vcs.time", Value: "2026-12-06T21:15:00+01:00"}}
	tests := []struct {
		name                  string
		version, commit, date string
		read                  func() (*debug.BuildInfo, bool)
		want                  Info
	}{
		{"stamped by make wins over the toolchain", "0.1.0", "51275c6abc", "2026-12-06T20:15:00Z", toolchain("v9.9.9", vcs...),
			Info{"0.1.0", "51275c6abc", "2026-12-06T20:15:00Z", goVersion, platform}},
		{"go install of a tag: the module version without its v", "", "", "", toolchain("v0.2.0"),
			Info{"0.2.0", "", "", goVersion, platform}},
		{"go build in a checkout: the VCS revision and time, in UTC", "", "", "", toolchain("(devel)", vcs...),
			Info{"dev", "feedface", "2026-12-06T20:15:00Z", goVersion, platform}},
		{"no build information at all", "", "", "", func() (*debug.BuildInfo, bool) { return nil, false },
			Info{"dev", "", "", goVersion, platform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.version, tt.commit, tt.date, tt.read); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want string
	}{
		{"a release", Info{"0.1.0", "51275c6a1b2c3d4e5f60718293a4b5c6d7e8f901", "2026-12-06T20:15:00Z", "go1.26.8", "linux/arm64"},
			"primetime 0.1.0 (commit 51275c6a1b2c, built 2026-12-06T20:15:00Z, go1.26.8, linux/arm64)"},
		{"unstamped", Info{"dev", "", "", "go1.26.8", "linux/amd64"},
			"primetime dev (commit unknown, built unknown, go1.26.8, linux/amd64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.info.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
