package release

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// heading is a Keep a Changelog release heading: "## [0.1.0] - 2026-12-07"
// or "## [Unreleased]".
var heading = regexp.MustCompile(`^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$`)

// Notes returns the CHANGELOG.md section of version (without its heading)
// as the release notes; an error when the changelog has no dated entry
// for it, so that nothing is released undocumented.
func Notes(changelog []byte, version string) (string, error) {
	var (
		out     strings.Builder
		in      bool
		found   bool
		dated   bool
		scanner = bufio.NewScanner(bytes.NewReader(changelog))
	)
	for scanner.Scan() {
		line := scanner.Text()
		if m := heading.FindStringSubmatch(line); m != nil {
			if in {
				break
			}
			if m[1] == version {
				in, found, dated = true, true, m[2] != ""
				continue
			}
		}
		if in && !strings.HasPrefix(line, "[") { // link references belong to the whole file
			out.WriteString(line + "\n")
		}
	}
	switch {
	case !found:
		return "", fmt.Errorf("CHANGELOG.md has no entry for %s: add \"## [%s] - YYYY-MM-DD\" with what changed", version, version)
	case !dated:
		return "", fmt.Errorf("CHANGELOG.md: the entry for %s has no date: \"## [%s] - YYYY-MM-DD\"", version, version)
	}
	notes := strings.TrimSpace(out.String())
	if notes == "" {
		return "", fmt.Errorf("CHANGELOG.md: the entry for %s is empty", version)
	}
	return notes + "\n", nil
}

// Checksums writes SHA256SUMS in dir for the named files (relative to
// dir), in sha256sum's format, so that `sha256sum -c SHA256SUMS` checks
// them.
func Checksums(dir string, names []string) error {
	var b strings.Builder
	for _, name := range names {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
