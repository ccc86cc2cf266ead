package config

import (
	"fmt"
	"sort"
	"strings"
)

// EntryKind says which list an entry belongs to.
type EntryKind string

// The entry kinds a problem can name.
const (
	KindTarget EntryKind = "target"
	KindWindow EntryKind = "window"
)

// Problem is one thing wrong with a configuration file: where it is, which
// entry and field it concerns, and why, in words a non-engineer understands.
type Problem struct {
	// File is the file name, or for a ConfigMap in the cluster
	// "namespace/name[key]".
	File string
	// Line is the 1-based line in File, 0 when unknown.
	Line int
	// Kind is the kind of entry; empty for a problem with the file itself.
	Kind EntryKind
	// Entry is the entry's name; empty when the entry has none.
	Entry string
	// Index is the entry's 1-based position in its list, used to name an
	// entry that has no name.
	Index int
	// Field is the dotted path of the field, e.g. "load.scrape.port".
	Field string
	// Reason says what is wrong and, where possible, how to fix it.
	Reason string
	// Warning marks advice: the entry still applies.
	Warning bool
}

// Error formats the problem as FILE:LINE: window "NAME": field: reason.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	if s := p.Subject(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Subject names the entry, e.g. `window "tf1-spot"` or `target #3`.
func (p Problem) Subject() string {
	switch {
	case p.Kind == "":
		return ""
	case p.Entry != "":
		return fmt.Sprintf("%s %q", p.Kind, p.Entry)
	case p.Index > 0:
		return fmt.Sprintf("%s #%d", p.Kind, p.Index)
	default:
		return string(p.Kind)
	}
}

// Problems is a list of problems; it is an error when it holds any that is
// not a warning.
type Problems []Problem

// Errors returns the problems that reject their entry.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the advisory problems.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Sort orders problems by file and line, keeping the order of equal ones.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}

// Error joins the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// entryReporter collects the problems of one entry.
type entryReporter struct {
	problems *Problems
	file     string
	lineOf   func(int) int
	kind     EntryKind
	entry    string
	index    int
	rejected bool
}

func (r *entryReporter) add(line int, field, format string, args ...any) {
	r.rejected = true
	r.emit(false, line, field, format, args...)
}

func (r *entryReporter) warn(line int, field, format string, args ...any) {
	r.emit(true, line, field, format, args...)
}

func (r *entryReporter) emit(warning bool, line int, field, format string, args ...any) {
	*r.problems = append(*r.problems, Problem{
		File:    r.file,
		Line:    r.lineOf(line),
		Kind:    r.kind,
		Entry:   r.entry,
		Index:   r.index,
		Field:   field,
		Reason:  fmt.Sprintf(format, args...),
		Warning: warning,
	})
}
