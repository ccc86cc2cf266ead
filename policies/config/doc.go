// Package config reads primetime's two user-facing configuration formats,
// targets (written by SREs) and windows (written by anyone), from bare YAML
// files and from ConfigMap manifests, and validates every field.
//
// Parsing never stops at the first problem: each entry is checked on its
// own, a bad entry is reported with its file, line, name, field and reason,
// and the good entries are returned alongside the problems.
//
// It owns the formats (YAML, cron, durations) and produces the shared
// vocabulary of package ground. It may import ground and YAML, cron and
// apimachinery validation libraries, nothing else of primetime's.
package config
