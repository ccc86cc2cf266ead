package ground

import (
	"regexp"
	"strconv"
	"time"
)

var rollupArg = regexp.MustCompile(`\.rollup\(\s*(?:[a-z]+\s*,\s*)?(\d+)\s*\)`)

// DatadogRollup returns the widest bucket a Datadog query pins with
// .rollup(fn, N) or .rollup(N), or 0 when it pins none. A value read from
// such a query describes a whole bucket, so it lags the load by up to that
// width.
func DatadogRollup(query string) time.Duration {
	var w time.Duration
	for _, m := range rollupArg.FindAllStringSubmatch(query, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			w = max(w, time.Duration(n)*time.Second)
		}
	}
	return w
}
