package simulate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/primetime-dev/primetime/ground"
	"github.com/primetime-dev/primetime/policies"
)

// ReadBaseline reads a baseline load for "Nx" windows (plan --baseline):
// a number, or a CSV file of timestamp,load rows (RFC 3339 or Unix
// seconds; a header row is skipped), whose load just before each floor
// starts is used. Empty: none.
func ReadBaseline(v string) (policies.Baseline, error) {
	if v == "" {
		return nil, nil
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return nil, fmt.Errorf("must not be negative, got %s", v)
		}
		return policies.ConstantBaseline(n), nil
	}
	f, err := os.Open(v)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a number nor a readable CSV file: %v", v, err)
	}
	defer f.Close()
	series, err := ReadSeriesCSV(f, v)
	if err != nil {
		return nil, err
	}
	return policies.BaselineFromSeries(series), nil
}

// PickTarget returns the target a trace is the load of: the one named
// namespace/name, or the only one when name is empty.
func PickTarget(targets []ground.Target, name string) (*ground.Target, error) {
	if name == "" {
		switch len(targets) {
		case 0:
			return nil, errors.New("the targets files hold no valid target")
		case 1:
			return &targets[0], nil
		}
		names := make([]string, len(targets))
		for i := range targets {
			names[i] = targets[i].Key().String()
		}
		return nil, fmt.Errorf("the targets files hold %d targets (%s): name the trace's with --target", len(targets), strings.Join(names, ", "))
	}
	for i := range targets {
		if targets[i].Key().String() == name {
			return &targets[i], nil
		}
	}
	return nil, fmt.Errorf("--target: no valid target %q in the targets files", name)
}
