package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/primetime-dev/primetime/ground"
	yaml "go.yaml.in/yaml/v3"
)

// Labels that make primetime read a ConfigMap.
const (
	LabelTargets = "primetime.dev/targets"
	LabelWindows = "primetime.dev/windows"
)

// EntryRef names an entry that was found, valid or not.
type EntryRef struct {
	Kind EntryKind
	// Namespace is set for targets.
	Namespace string
	Name      string
}

// Result is what parsing produced: the valid entries, the problems, and the
// entries that were rejected (so that a caller can keep their last good
// version in force).
type Result struct {
	Targets  []ground.Target
	Windows  []ground.Window
	Problems Problems
	Rejected []EntryRef
	// Documents counts the targets and windows documents read.
	Documents int
	// ScaledObjects are the KEDA ScaledObjects with primetime triggers
	// found in files (lint checks them; the daemon reads none).
	ScaledObjects []ScaledObject
}

// Merge appends other's entries and problems to r.
func (r *Result) Merge(other *Result) {
	r.Targets = append(r.Targets, other.Targets...)
	r.Windows = append(r.Windows, other.Windows...)
	r.Problems = append(r.Problems, other.Problems...)
	r.Rejected = append(r.Rejected, other.Rejected...)
	r.Documents += other.Documents
	r.ScaledObjects = append(r.ScaledObjects, other.ScaledObjects...)
}

// docContext says where a document came from and how its lines map to the
// lines of the file the user edits.
type docContext struct {
	file string
	// lineOf maps a line of the parsed text to a line of the file.
	lineOf func(int) int
	// namespace is the default namespace of targets (a ConfigMap's own).
	namespace string
	// windowNames and targetNames hold the names already defined in the
	// scope where names must be unique, with their lines.
	windowNames map[string]int
	targetNames map[ground.TargetKey]int
	// loader expands the template variables of targets' queries.
	loader Loader
}

func identity(l int) int { return l }

// ParseFile reads a file holding targets or windows documents, ConfigMap
// manifests holding them under keys ending in .yaml, or a List of such
// ConfigMaps; KEDA ScaledObjects in it are read for their primetime
// triggers. Multi-document YAML is accepted. Queries holding template
// variables are rejected: Loader.ParseFile expands them.
func ParseFile(name string, data []byte) *Result { return parseFile(Loader{}, name, data) }

func parseFile(l Loader, name string, data []byte) *Result {
	res := &Result{}
	ctx := &docContext{file: name, lineOf: identity, windowNames: map[string]int{}, targetNames: map[ground.TargetKey]int{}, loader: l}
	docs, err := decodeDocuments(data)
	for _, doc := range docs {
		parseNode(res, ctx, doc, true)
	}
	if err != nil {
		res.Problems = append(res.Problems, yamlProblem(ctx, err))
	}
	return res
}

// ParseConfigMapData reads the data of a ConfigMap as primetime does in the
// cluster: every key ending in .yaml is a targets or windows document; the
// others are ignored. Problems name the file as "namespace/name[key]", with
// lines counted within the key's value. Targets default to namespace.
// Queries holding template variables are rejected: Loader.ParseConfigMapData
// expands them.
func ParseConfigMapData(namespace, name string, data map[string]string) *Result {
	return parseConfigMapData(Loader{}, namespace, name, data)
}

func parseConfigMapData(l Loader, namespace, name string, data map[string]string) *Result {
	res := &Result{}
	windowNames, targetNames := map[string]int{}, map[ground.TargetKey]int{}
	for _, key := range sortedKeys(data) {
		if !strings.HasSuffix(key, ".yaml") {
			continue
		}
		ctx := &docContext{
			file:        fmt.Sprintf("%s/%s[%s]", namespace, name, key),
			lineOf:      identity,
			namespace:   namespace,
			windowNames: windowNames,
			targetNames: targetNames,
			loader:      l,
		}
		parseText(res, ctx, data[key])
	}
	return res
}

// parseText parses an embedded document (a ConfigMap value).
func parseText(res *Result, ctx *docContext, text string) {
	docs, err := decodeDocuments([]byte(text))
	for _, doc := range docs {
		parseNode(res, ctx, doc, false)
	}
	if err != nil {
		res.Problems = append(res.Problems, yamlProblem(ctx, err))
	}
}

// maxDocuments bounds the documents read from one input.
const maxDocuments = 1000

func decodeDocuments(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		// The YAML library is third-party code fed with user input: a panic
		// in it must reject the input, not stop the daemon.
		if p := recover(); p != nil {
			err = fmt.Errorf("yaml: the YAML parser failed on this input: %v", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for len(docs) < maxDocuments {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return docs, err
		}
		if len(n.Content) > 0 {
			docs = append(docs, n.Content[0])
		}
	}
	return docs, fmt.Errorf("yaml: more than %d documents", maxDocuments)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func yamlProblem(ctx *docContext, err error) Problem {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return Problem{
		File:   ctx.file,
		Line:   ctx.lineOf(line),
		Reason: "the YAML does not parse: " + msg + " (check the indentation and quotes around this line)",
	}
}

// parseNode dispatches one top-level document: a targets or windows
// document, or (in files only) a ConfigMap or a List of them.
func parseNode(res *Result, ctx *docContext, n *yaml.Node, manifests bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(n.Line),
			Reason: "expected a `targets:` or `windows:` list, found " + describe(n)})
		return
	}
	keys := topKeys(n)
	switch {
	case keys["kind"] != nil && manifests:
		parseManifest(res, ctx, n, keys)
	case keys["targets"] != nil && keys["windows"] != nil:
		res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(keys["windows"].Line),
			Reason: "a document holds either `targets:` or `windows:`, not both; split it with a `---` line or into two keys"})
	case keys["targets"] != nil:
		res.Documents++
		parseTargetsDoc(res, ctx, n)
	case keys["windows"] != nil:
		res.Documents++
		parseWindowsDoc(res, ctx, n)
	default:
		res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(n.Line),
			Reason: "expected a `targets:` or `windows:` list, or a ConfigMap holding them"})
	}
}

func topKeys(n *yaml.Node) map[string]*yaml.Node {
	keys := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode {
			if _, dup := keys[k.Value]; !dup {
				keys[k.Value] = resolve(n.Content[i+1])
			}
		}
	}
	return keys
}

// parseManifest reads a ConfigMap, or a List of ConfigMaps, from a file.
func parseManifest(res *Result, ctx *docContext, n *yaml.Node, keys map[string]*yaml.Node) {
	kind := keys["kind"].Value
	switch kind {
	case "List", "ConfigMapList":
		items := keys["items"]
		if items == nil || items.Kind != yaml.SequenceNode {
			return
		}
		for _, it := range items.Content {
			if it = resolve(it); it.Kind == yaml.MappingNode {
				parseManifest(res, ctx, it, topKeys(it))
			}
		}
		return
	case "ConfigMap":
	case "ScaledObject":
		parseScaledObject(res, ctx, n, keys)
		return
	default:
		res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(keys["kind"].Line),
			Reason: fmt.Sprintf("a %s is not primetime configuration; expected a ConfigMap", kind)})
		return
	}
	var namespace, cmName string
	labels := map[string]string{}
	if md := keys["metadata"]; md != nil && md.Kind == yaml.MappingNode {
		mk := topKeys(md)
		if v := mk["namespace"]; v != nil {
			namespace = v.Value
		}
		if v := mk["name"]; v != nil {
			cmName = v.Value
		}
		if l := mk["labels"]; l != nil && l.Kind == yaml.MappingNode {
			for k, v := range topKeys(l) {
				labels[k] = v.Value
			}
		}
	}
	data := keys["data"]
	if data == nil || data.Kind != yaml.MappingNode {
		return
	}
	// Names are unique within one ConfigMap, across its keys.
	cmCtx := &docContext{file: ctx.file, lineOf: ctx.lineOf, namespace: namespace,
		windowNames: map[string]int{}, targetNames: ctx.targetNames, loader: ctx.loader}
	for i := 0; i+1 < len(data.Content); i += 2 {
		k, v := data.Content[i], resolve(data.Content[i+1])
		if !strings.HasSuffix(k.Value, ".yaml") {
			if strings.HasSuffix(k.Value, ".yml") {
				res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(k.Line), Warning: true,
					Reason: fmt.Sprintf("ConfigMap %q: key %q is ignored: primetime reads only keys ending in .yaml", cmName, k.Value)})
			}
			continue
		}
		if v.Kind != yaml.ScalarNode {
			res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(v.Line),
				Reason: fmt.Sprintf("ConfigMap %q: key %q must hold text (use `%s: |`)", cmName, k.Value, k.Value)})
			continue
		}
		keyCtx := *cmCtx
		base := v.Line
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			keyCtx.lineOf = func(l int) int { return ctx.lineOf(base + l) }
		} else {
			// A quoted value's lines cannot be mapped back: point at the key.
			keyCtx.lineOf = func(int) int { return ctx.lineOf(base) }
		}
		before := res.Documents
		targetsBefore, windowsBefore := len(res.Targets), len(res.Windows)
		parseText(res, &keyCtx, v.Value)
		if res.Documents == before {
			continue
		}
		warnMissingLabel(res, ctx, k.Line, cmName, labels, len(res.Targets) > targetsBefore, len(res.Windows) > windowsBefore)
	}
}

func warnMissingLabel(res *Result, ctx *docContext, line int, cmName string, labels map[string]string, hasTargets, hasWindows bool) {
	for _, need := range []struct {
		has   bool
		label string
	}{{hasTargets, LabelTargets}, {hasWindows, LabelWindows}} {
		if need.has && labels[need.label] != "true" {
			res.Problems = append(res.Problems, Problem{File: ctx.file, Line: ctx.lineOf(line), Warning: true,
				Reason: fmt.Sprintf("ConfigMap %q lacks the label %s: \"true\", so primetime will not read it", cmName, need.label)})
		}
	}
}

// entryName finds an entry's name before validation, to name it in errors.
func entryName(n *yaml.Node) string {
	if n = resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	if v := topKeys(n)["name"]; v != nil && v.Kind == yaml.ScalarNode {
		return strings.TrimSpace(v.Value)
	}
	return ""
}
