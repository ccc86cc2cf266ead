// Package release builds what an SRE installs: primetime's static
// binaries, its OCI image for several platforms, and the files published
// beside them (release notes, checksums). It needs the Go toolchain alone:
// no Docker engine, no base image pulled from a registry.
//
// One Meta (version, commit, commit time) is stamped into everything: the
// binary's build information, the image's labels and tag, the chart's
// appVersion (make chart passes it to helm package). Every timestamp is
// the commit's, every file owner and mode fixed, so the same commit gives
// the same bytes and the same digests (make image-reproducible checks it).
//
// release/mkrelease wires it to make image and make release.
package release
