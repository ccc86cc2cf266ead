package config

import "os"

// ReadFiles parses targets and windows files (or ConfigMap manifests
// holding them) with l's template variables, merged as one configuration
// with its conflicts resolved; the problems are in the result's Problems.
// An unreadable file is the error.
func (l Loader) ReadFiles(paths ...string) (*Result, error) {
	all := &Result{}
	for _, f := range paths {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all.Merge(l.ParseFile(f, data))
	}
	all.ResolveConflicts()
	return all, nil
}
