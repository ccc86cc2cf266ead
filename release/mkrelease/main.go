// Command mkrelease builds primetime's release files; make image, make
// chart and make release run it.
//
//	mkrelease image --version V --commit SHA --date RFC3339 --platforms linux/amd64,linux/arm64 --out dist
//	mkrelease notes --version V CHANGELOG.md
//	mkrelease checksums --dir dist FILE...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/primetime-dev/primetime/release"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkrelease: %v\n", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("want a command: image, notes or checksums")
	}
	f := flag.NewFlagSet("mkrelease "+args[0], flag.ContinueOnError)
	var (
		version   = f.String("version", "", "the version to stamp (SemVer, no leading v)")
		commit    = f.String("commit", "", "the full git commit")
		date      = f.String("date", "", "the commit time, RFC 3339")
		platforms = f.String("platforms", "linux/amd64,linux/arm64", "the platforms of the image")
		out       = f.String("out", "dist", "the output directory")
		dir       = f.String("dir", "dist", "the directory of the files to checksum")
	)
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "image":
		t, err := time.Parse(time.RFC3339, *date)
		if *date != "" && err != nil {
			return fmt.Errorf("--date %q: want RFC 3339 (git log -1 --format=%%cI)", *date)
		}
		ps, err := release.ParsePlatforms(*platforms)
		if err != nil {
			return err
		}
		root, err := os.Getwd()
		if err != nil {
			return err
		}
		a, err := release.Build(context.Background(), release.Options{Root: root, Out: *out, Platforms: ps,
			Meta: release.Meta{Version: *version, Commit: *commit, Time: t}})
		if err != nil {
			return err
		}
		fmt.Printf("primetime %s: %s/%s (OCI layout), %s/%s\n%s", *version, *out, a.Layout, *out, a.Archive, a.Digests)
	case "notes":
		if f.NArg() != 1 {
			return errors.New("notes: want the changelog's path")
		}
		b, err := os.ReadFile(f.Arg(0))
		if err != nil {
			return err
		}
		notes, err := release.Notes(b, *version)
		if err != nil {
			return err
		}
		fmt.Print(notes)
	case "checksums":
		return release.Checksums(*dir, f.Args())
	default:
		return fmt.Errorf("unknown command %q: want image, notes or checksums", args[0])
	}
	return nil
}
