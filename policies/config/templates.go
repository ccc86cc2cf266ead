package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// Loader reads configuration as one daemon sees it: the template
// variables of targets' queries, %%cluster%% and %%env_NAME%%, are
// expanded once, when a file or ConfigMap is parsed, with the daemon's
// --cluster and environment. The zero Loader knows no cluster and no
// variable: a query holding template variables is then rejected.
type Loader struct {
	// Cluster is the value of %%cluster%%: the daemon's --cluster.
	Cluster string
	// LookupEnv returns the daemon's environment variable NAME, the value
	// of %%env_NAME%% (os.LookupEnv); nil: no variable is set.
	LookupEnv func(name string) (string, bool)
}

// ParseFile is the package's ParseFile, with l's template variables.
func (l Loader) ParseFile(name string, data []byte) *Result {
	return parseFile(l, name, data)
}

// ParseConfigMapData is the package's ParseConfigMapData, with l's
// template variables.
func (l Loader) ParseConfigMapData(namespace, name string, data map[string]string) *Result {
	return parseConfigMapData(l, namespace, name, data)
}

// templateRE matches one template variable, %%name%%.
var templateRE = regexp.MustCompile(`%%(.*?)%%`)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand returns query with its template variables replaced, and the
// reason each variable that cannot be expanded is wrong (once each). A
// query without %% is returned as it is.
func (l Loader) expand(query string) (string, []string) {
	if !strings.Contains(query, "%%") {
		return query, nil
	}
	var reasons []string
	seen := map[string]bool{}
	bad := func(variable, reason string) {
		if !seen[variable] {
			seen[variable] = true
			reasons = append(reasons, reason)
		}
	}
	out := templateRE.ReplaceAllStringFunc(query, func(m string) string {
		name := m[2 : len(m)-2]
		switch {
		case name == "cluster":
			if l.Cluster == "" {
				bad(m, m+" is empty: run primetime with --cluster NAME (serve, lint and plan take it)")
			}
			return l.Cluster
		case strings.HasPrefix(name, "env_"):
			env := strings.TrimPrefix(name, "env_")
			if !envNameRE.MatchString(env) {
				bad(m, m+" names no environment variable; write %%env_NAME%%, e.g. %%env_DD_CLUSTER_NAME%%")
				return m
			}
			if secretName(env) {
				bad(m, m+" names a secret: primetime never puts a key, token or password of its environment in a query")
				return m
			}
			var v string
			ok := false
			if l.LookupEnv != nil {
				v, ok = l.LookupEnv(env)
			}
			v = strings.TrimSpace(v) // a value from a file ends with a newline
			switch {
			case !ok:
				bad(m, m+" is not set in primetime's environment")
			case v == "":
				bad(m, m+" is empty in primetime's environment")
			}
			return v
		default:
			bad(m, m+" is not a template variable"+templateSuggestion(name))
			return m
		}
	})
	if rest := templateRE.ReplaceAllString(query, ""); strings.Contains(rest, "%%") {
		bad("%%", "holds a %% that closes no template variable; write them as %%cluster%% or %%env_NAME%%")
	}
	if len(reasons) > 0 {
		return query, reasons
	}
	return out, nil
}

// secretName reports whether an environment variable's name says it holds
// a credential (DD_API_KEY, DD_APP_KEY, a token, a password): its value
// would be sent in queries and shown in errors, Events and the calendar.
func secretName(name string) bool {
	up := strings.ToUpper(name)
	for _, w := range []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL"} {
		if strings.Contains(up, w) {
			return true
		}
	}
	return false
}

// templateSuggestion names the variable probably meant by an unknown one.
func templateSuggestion(name string) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "tag_") || strings.HasPrefix(lower, "kube_"):
		// The Datadog Cluster Agent's %%tag_kube_cluster_name%%.
		return "; primetime has no tag variables: write %%cluster%% (its --cluster) or %%env_NAME%% (its environment variable NAME)"
	case editDistance(lower, "cluster") <= 2:
		return "; did you mean %%cluster%%?"
	case strings.HasPrefix(lower, "env") && strings.TrimLeft(name[3:], "_-:.") != "":
		return "; did you mean %%env_" + strings.TrimLeft(name[3:], "_-:.") + "%%?"
	}
	return "; primetime knows %%cluster%% (its --cluster) and %%env_NAME%% (its environment variable NAME)"
}

// expandQuery expands the template variables of the query in field f
// (path names it), reporting each one that cannot be expanded; false
// then, with the query as written. For a target of another cluster
// (elsewhere) nothing is reported: that cluster's daemon expands it.
func expandQuery(r *entryReporter, ctx *docContext, f field, path, query string, elsewhere bool) (string, bool) {
	q, reasons := ctx.loader.expand(query)
	if elsewhere {
		return q, len(reasons) == 0
	}
	for _, reason := range reasons {
		r.add(f.line(), path, "%s", reason)
	}
	return q, len(reasons) == 0
}

// MaxQuickRollup is the widest Datadog rollup lint accepts without a
// warning: primetime reads a bucket once it is complete, so a wider one
// delays its reaction by as much.
const MaxQuickRollup = time.Minute

// DatadogRollupAdvice says, for a Datadog query pinning a rollup wider
// than MaxQuickRollup, how late primetime reacts to its load: "rolls up
// by 5m0s: primetime reacts up to 5m late; .rollup(avg, 30) or none
// reacts within a minute". False for other queries.
func DatadogRollupAdvice(query string) (string, bool) {
	w := ground.DatadogRollup(query)
	if w <= MaxQuickRollup {
		return "", false
	}
	head := "rolls up by " + w.String() + ": primetime reacts up to " + FormatDuration(w) + " late; "
	if counts := strings.Contains(query, ".as_count()") || sumRollup.MatchString(query); counts {
		// A count per bucket: a narrower bucket counts less, and the
		// load per replica with it.
		return head + fmt.Sprintf(".rollup(sum, 30) reacts within a minute, counting per 30 s: divide capacityPerReplica by %g", w.Seconds()/30), true
	}
	return head + ".rollup(avg, 30) or none reacts within a minute", true
}

var sumRollup = regexp.MustCompile(`\.rollup\(\s*(sum|count)\s*,`)

// bareCount is a counting rollup without an interval.
var bareCount = regexp.MustCompile(`\.rollup\(\s*(sum|count)\s*\)`)

// DatadogBareCountAdvice says, for a Datadog query counting with
// .rollup(sum) or .rollup(count) and no interval, in what unit primetime
// reads its load: it pins 30 s on it (Datadog would choose the interval
// by the range asked), so the load is a count per 30 s. False for other
// queries.
func DatadogBareCountAdvice(query string) (string, bool) {
	m := bareCount.FindStringSubmatch(query)
	if m == nil {
		return "", false
	}
	return fmt.Sprintf(".rollup(%s) has no interval: primetime sends .rollup(%s,30), so the load is a count per 30 s (capacityPerReplica and an absolute expect: in that unit); write .rollup(%s, 30) to say so", m[1], m[1], m[1]), true
}
