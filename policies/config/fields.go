package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// field holds one YAML value exactly as written, so that validation can
// report its line and explain what was expected instead of failing the whole
// document on a type mismatch. The raw structs below are made of fields only;
// their yaml tags are the single list of what users may write.
type field struct{ n *yaml.Node }

// UnmarshalYAML keeps the node; it never fails.
func (f *field) UnmarshalYAML(n *yaml.Node) error {
	f.n = n
	return nil
}

func (f field) set() bool { return f.n != nil }

func (f field) line() int {
	if f.n == nil {
		return 0
	}
	return f.n.Line
}

func (f field) isNull() bool {
	return f.n != nil && f.n.Kind == yaml.ScalarNode && f.n.Tag == "!!null"
}

// describe names the kind of a YAML value for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a set of fields"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	default:
		return "something else"
	}
}

// text returns the value as text; it must be a non-empty scalar.
func (f field) text(r *entryReporter, path string) (string, bool) {
	if f.isNull() {
		r.add(f.line(), path, "is empty; give a value or remove the line")
		return "", false
	}
	if f.n.Kind != yaml.ScalarNode {
		r.add(f.line(), path, "must be a single value, not %s", describe(f.n))
		return "", false
	}
	v := strings.TrimSpace(f.n.Value)
	if v == "" {
		r.add(f.line(), path, "is empty; give a value or remove the line")
		return "", false
	}
	return v, true
}

// number returns a finite number.
func (f field) number(r *entryReporter, path string) (float64, bool) {
	s, ok := f.text(r, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		r.add(f.line(), path, "must be a number, got %q", s)
		return 0, false
	}
	return v, true
}

// integer returns a whole number within [lo, hi].
func (f field) integer(r *entryReporter, path string, lo, hi int64) (int64, bool) {
	s, ok := f.text(r, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if fv, ferr := strconv.ParseFloat(s, 64); ferr == nil && !math.IsNaN(fv) {
			r.add(f.line(), path, "must be a whole number, got %s", s)
		} else {
			r.add(f.line(), path, "must be a whole number, got %q", s)
		}
		return 0, false
	}
	if v < lo || v > hi {
		r.add(f.line(), path, "must be between %d and %d, got %d", lo, hi, v)
		return 0, false
	}
	return v, true
}

// boolean returns true or false.
func (f field) boolean(r *entryReporter, path string) (bool, bool) {
	s, ok := f.text(r, path)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	r.add(f.line(), path, "must be true or false, got %q", s)
	return false, false
}

// duration returns a duration within [lo, hi]. It accepts Go durations
// ("90s", "1h30m") and whole days ("7d").
func (f field) duration(r *entryReporter, path string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := f.text(r, path)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		r.add(f.line(), path, "%v", err)
		return 0, false
	}
	if d < lo || d > hi {
		r.add(f.line(), path, "must be between %s and %s, got %s", FormatDuration(lo), FormatDuration(hi), s)
		return 0, false
	}
	return d, true
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 3650 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q needs a unit, for example 15m, 2h or 1d", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write it like 90s, 15m, 1h30m or 7d", s)
	}
	return d, nil
}

// FormatDuration prints a duration the way users write it ("10m", "1h30m",
// "7d"), without trailing zero units.
func FormatDuration(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// list returns the items of a YAML list; a single value is taken as a list
// of one.
func (f field) list(r *entryReporter, path string) ([]field, bool) {
	if f.isNull() {
		r.add(f.line(), path, "is empty; give at least one item")
		return nil, false
	}
	switch f.n.Kind {
	case yaml.SequenceNode:
		items := make([]field, len(f.n.Content))
		for i, c := range f.n.Content {
			items[i] = field{n: resolve(c)}
		}
		if len(items) == 0 {
			r.add(f.line(), path, "is empty; give at least one item")
			return nil, false
		}
		return items, true
	case yaml.ScalarNode:
		return []field{f}, true
	}
	r.add(f.line(), path, "must be a list, not %s", describe(f.n))
	return nil, false
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mapping checks that f holds a mapping whose keys are all yaml-tagged fields
// of the struct `into` points to, then fills it. Unknown and repeated keys are
// reported; the remaining keys are still decoded so that the rest of the
// entry can be checked too.
func (f field) mapping(r *entryReporter, path string, into any) bool {
	return decodeMapping(r, f.n, path, into)
}

func decodeMapping(r *entryReporter, n *yaml.Node, path string, into any) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		what := "empty"
		line := 0
		if n != nil {
			what, line = describe(n), n.Line
		}
		r.add(line, path, "must be a set of `key: value` fields, not %s", what)
		return false
	}
	known := yamlFields(reflect.TypeOf(into).Elem())
	seen := make(map[string]int, len(n.Content)/2)
	clean := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	good := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		name := k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			r.add(k.Line, path, "a field name must be a word, not %s", describe(k))
			good = false
		case !known.has(name):
			r.add(k.Line, join(path, name), "unknown field%s", known.suggest(name))
			good = false
		case seen[name] > 0:
			r.add(k.Line, join(path, name), "given twice (first on line %d); keep one", r.lineOf(seen[name]))
			good = false
		default:
			seen[name] = k.Line
			clean.Content = append(clean.Content, k, v)
		}
	}
	if err := clean.Decode(into); err != nil {
		r.add(n.Line, path, "%v", err)
		return false
	}
	return good
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldSet is the set of yaml names of a raw struct.
type fieldSet []string

// fieldSets caches the yaml names of each raw struct type.
var fieldSets sync.Map // reflect.Type -> fieldSet

func yamlFields(t reflect.Type) fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	var fs fieldSet
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fs = append(fs, name)
		}
	}
	sort.Strings(fs)
	fieldSets.Store(t, fs)
	return fs
}

func (fs fieldSet) has(name string) bool {
	i := sort.SearchStrings(fs, name)
	return i < len(fs) && fs[i] == name
}

// suggest proposes the closest known field name, or lists them all.
func (fs fieldSet) suggest(name string) string {
	best, bestDist := "", 3
	for _, k := range fs {
		d := editDistance(strings.ToLower(name), strings.ToLower(k))
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known fields are " + strings.Join(fs, ", ")
}

// editDistance is the number of typos between a and b: letters inserted,
// deleted, replaced or swapped with their neighbour (the optimal string
// alignment distance), so that "expcet" is one typo from "expect" and two
// from "except".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	// rows[i][j] is the distance between a[:i] and b[:j].
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
