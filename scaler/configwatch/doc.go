// Package configwatch keeps the targets and windows in force from the
// ConfigMaps labelled primetime.dev/targets and primetime.dev/windows,
// watched with client-go informers.
//
// Every change is validated again. A rejected entry is reported as an
// InvalidEntry Event on its ConfigMap, naming the entry, the field and the
// reason, and the last good version of that entry stays in force; a key
// whose YAML does not parse at all keeps all its last good entries; entries
// removed from a ConfigMap, or a deleted ConfigMap, are removed.
//
// It may import ground, policies/config and client-go.
package configwatch
