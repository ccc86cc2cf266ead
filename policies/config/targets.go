package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The raw forms below are the targets format of SPEC §1: their yaml tags are
// the fields users may write; validate turns them into a Target.

type targetsDocRaw struct {
	Targets field `yaml:"targets"`
}

type targetRaw struct {
	Name               field `yaml:"name"`
	Namespace          field `yaml:"namespace"`
	ScaleTargetRef     field `yaml:"scaleTargetRef"`
	Load               field `yaml:"load"`
	CapacityPerReplica field `yaml:"capacityPerReplica"`
	MinReplicas        field `yaml:"minReplicas"`
	MaxReplicas        field `yaml:"maxReplicas"`
	LeadTime           field `yaml:"leadTime"`
	MinLeadTime        field `yaml:"minLeadTime"`
	MaxLeadTime        field `yaml:"maxLeadTime"`
	Mode               field `yaml:"mode"`
	Forecast           field `yaml:"forecast"`
	Clusters           field `yaml:"clusters"`
	DryRun             field `yaml:"dryRun"`
	Behavior           field `yaml:"behavior"`
	LearnedHeadroom    field `yaml:"learnedHeadroom"`
	Nodes              field `yaml:"nodes"`
}

type nodesRaw struct {
	LeadTime field `yaml:"leadTime"`
}

type behaviorRaw struct {
	Tolerance field `yaml:"tolerance"`
	ScaleDown field `yaml:"scaleDown"`
}

type scaleDownRaw struct {
	StabilizationWindowSeconds field `yaml:"stabilizationWindowSeconds"`
}

type scaleTargetRefRaw struct {
	APIVersion field `yaml:"apiVersion"`
	Kind       field `yaml:"kind"`
	Name       field `yaml:"name"`
}

type loadRaw struct {
	Prometheus field `yaml:"prometheus"`
	Datadog    field `yaml:"datadog"`
	Scrape     field `yaml:"scrape"`
	Kubernetes field `yaml:"kubernetes"`
}

type kubernetesRaw struct {
	Selector field `yaml:"selector"`
	Resource field `yaml:"resource"`
}

type scrapeRaw struct {
	Selector field `yaml:"selector"`
	Port     field `yaml:"port"`
	Path     field `yaml:"path"`
	Counter  field `yaml:"counter"`
}

type forecastRaw struct {
	Seasonality field `yaml:"seasonality"`
	Lookback    field `yaml:"lookback"`
}

// Limits and defaults of the targets format.
const (
	// MaxReplicasLimit bounds minReplicas and maxReplicas.
	MaxReplicasLimit = 100000
	// MaxLearnedHeadroom bounds learnedHeadroom: a learned multiplier is
	// at most 3 times the highest one seen.
	MaxLearnedHeadroom = 2
	// DefaultLeadTime is used when a target gives no leadTime.
	DefaultLeadTime = 5 * time.Minute
	// MaxLeadTime bounds leadTime.
	MaxLeadTime = 24 * time.Hour
	// DefaultMinLeadTime is the shortest learned lead when a target with
	// "leadTime: learned" gives no minLeadTime.
	DefaultMinLeadTime = time.Minute
	// DefaultLookback is the number of past seasons a forecast looks at.
	DefaultLookback = 4
)

func parseTargetsDoc(res *Result, ctx *docContext, n *yaml.Node) {
	docReporter := &entryReporter{problems: &res.Problems, file: ctx.file, lineOf: ctx.lineOf}
	var doc targetsDocRaw
	decodeMapping(docReporter, n, "", &doc)
	if !doc.Targets.set() {
		return
	}
	items, ok := doc.Targets.list(docReporter, "targets")
	if !ok {
		return
	}
	for i, item := range items {
		r := &entryReporter{problems: &res.Problems, file: ctx.file, lineOf: ctx.lineOf,
			kind: KindTarget, entry: entryName(item.n), index: i + 1}
		t, ok := validateTarget(r, ctx, item)
		if ok && !r.rejected {
			res.Targets = append(res.Targets, t)
			continue
		}
		if r.entry != "" {
			res.Rejected = append(res.Rejected, EntryRef{Kind: KindTarget, Namespace: t.Namespace, Name: r.entry})
		}
	}
}

func validateTarget(r *entryReporter, ctx *docContext, item field) (ground.Target, bool) {
	t := ground.Target{Origin: ground.Origin{File: ctx.file, Line: r.lineOf(item.line())}, Mode: ground.ModeMetric, MinReplicas: 1, LeadTime: DefaultLeadTime, LearnedHeadroom: ground.DefaultLearnedHeadroom,
		Behavior: ground.DefaultBehavior}
	var raw targetRaw
	if !item.mapping(r, "", &raw) && raw == (targetRaw{}) {
		return t, false
	}
	t.Name = requiredName(r, item, raw.Name, "name", "the target")
	if t.Name != "" {
		checkDNSLabel(r, raw.Name, "name", t.Name)
	}
	switch {
	case raw.Namespace.set():
		if ns, ok := raw.Namespace.text(r, "namespace"); ok {
			if checkDNSLabel(r, raw.Namespace, "namespace", ns) {
				t.Namespace = ns
			}
		}
	case ctx.namespace != "":
		t.Namespace = ctx.namespace
	default:
		r.add(item.line(), "namespace", "is missing; give the namespace of the workload")
	}
	if t.Name != "" && t.Namespace != "" {
		key := t.Key()
		if first, dup := ctx.targetNames[key]; dup {
			r.add(raw.Name.line(), "name", "target %s is already defined on line %d; names are unique within a namespace", key, first)
		} else {
			ctx.targetNames[key] = r.lineOf(raw.Name.line())
		}
	}
	t.ScaleTargetRef = validateScaleTargetRef(r, item, raw.ScaleTargetRef)
	if raw.Clusters.set() {
		if items, ok := raw.Clusters.list(r, "clusters"); ok {
			for _, c := range items {
				if name, ok := c.text(r, "clusters"); ok && checkDNSLabel(r, c, "clusters", name) {
					t.Clusters = append(t.Clusters, name)
				}
			}
		}
	}
	// A target that another cluster's daemon acts on is not checked
	// against this one's template variables (lint --cluster, serve).
	elsewhere := ctx.loader.Cluster != "" && len(t.Clusters) > 0 && !slices.Contains(t.Clusters, ctx.loader.Cluster)
	t.Load = validateLoad(r, ctx, item, raw.Load, elsewhere)

	if !raw.CapacityPerReplica.set() {
		r.add(item.line(), "capacityPerReplica", "is missing; give the load one replica serves at its target utilisation")
	} else if v, ok := raw.CapacityPerReplica.number(r, "capacityPerReplica"); ok {
		if v <= 0 {
			r.add(raw.CapacityPerReplica.line(), "capacityPerReplica", "must be greater than 0, got %g", v)
		}
		t.CapacityPerReplica = v
	}
	minOK := true
	if raw.MinReplicas.set() {
		v, ok := raw.MinReplicas.integer(r, "minReplicas", 0, MaxReplicasLimit)
		t.MinReplicas, minOK = int32(v), ok
	}
	if !raw.MaxReplicas.set() {
		r.add(item.line(), "maxReplicas", "is missing; give the most replicas primetime may ask for")
	} else if v, ok := raw.MaxReplicas.integer(r, "maxReplicas", 1, MaxReplicasLimit); ok {
		t.MaxReplicas = int32(v)
		if minOK && t.MaxReplicas < t.MinReplicas {
			r.add(raw.MaxReplicas.line(), "maxReplicas", "must be at least minReplicas (%d), got %d", t.MinReplicas, v)
		}
	}
	validateLeadTime(r, &t, raw)
	if raw.Mode.set() {
		if m, ok := raw.Mode.text(r, "mode"); ok {
			switch ground.Mode(m) {
			case ground.ModeMetric, ground.ModeHPAFloor, ground.ModeScale:
				t.Mode = ground.Mode(m)
			default:
				r.add(raw.Mode.line(), "mode", "must be metric, hpa-floor or scale, got %q", m)
			}
		}
	}
	if raw.Forecast.set() {
		t.Forecast = validateForecast(r, raw.Forecast)
	}
	if raw.DryRun.set() {
		t.DryRun, _ = raw.DryRun.boolean(r, "dryRun")
	}
	if raw.Nodes.set() {
		t.Nodes = validateNodes(r, raw.Nodes)
	}
	if raw.LearnedHeadroom.set() {
		if v, ok := raw.LearnedHeadroom.number(r, "learnedHeadroom"); ok {
			if v < 0 || v > MaxLearnedHeadroom {
				r.add(raw.LearnedHeadroom.line(), "learnedHeadroom", "must be a fraction from 0 to %g (0.1 is 10%%), got %g", float64(MaxLearnedHeadroom), v)
			} else {
				t.LearnedHeadroom = v
			}
		}
	}
	if raw.Behavior.set() {
		switch t.Mode {
		case ground.ModeScale:
		default:
			// Metric mode: primetime_replicas itself is paced, and the HPA
			// fed by it may then have no scale-down stabilisation of its
			// own. hpa-floor mode: it sets how long a floor following its
			// learned shape is held (HoldShaped).
			var b behaviorRaw
			if raw.Behavior.n != nil && raw.Behavior.n.Decode(&b) == nil && b.Tolerance.set() {
				does := "holds a floor following its learned shape"
				if t.Mode == ground.ModeMetric {
					does = "paces primetime_replicas"
				}
				r.add(b.Tolerance.line(), "behavior.tolerance", "in mode %s the HPA's own tolerance applies; set it on the HPA (behavior.scaleDown %s)", t.Mode, does)
			}
			t.PacePublished = t.Mode == ground.ModeMetric
		}
		t.Behavior = validateBehavior(r, raw.Behavior)
	}
	return t, true
}

// MaxStabilization bounds scaleDown.stabilizationWindowSeconds, as the
// HPA does (one hour).
const MaxStabilization = time.Hour

func validateBehavior(r *entryReporter, f field) ground.Behavior {
	b := ground.DefaultBehavior
	var raw behaviorRaw
	if !f.mapping(r, "behavior", &raw) && raw == (behaviorRaw{}) {
		return b
	}
	if raw.Tolerance.set() {
		if v, ok := raw.Tolerance.number(r, "behavior.tolerance"); ok {
			if v < 0 || v >= 1 {
				r.add(raw.Tolerance.line(), "behavior.tolerance", "must be a fraction from 0 to below 1 (0.1 is 10%%), got %g", v)
			}
			b.Tolerance = v
		}
	}
	if raw.ScaleDown.set() {
		var sd scaleDownRaw
		if raw.ScaleDown.mapping(r, "behavior.scaleDown", &sd) && sd.StabilizationWindowSeconds.set() {
			if v, ok := sd.StabilizationWindowSeconds.integer(r, "behavior.scaleDown.stabilizationWindowSeconds", 0, int64(MaxStabilization/time.Second)); ok {
				b.ScaleDownStabilization = time.Duration(v) * time.Second
			}
		}
	}
	return b
}

// requiredName reads a required name field.
func requiredName(r *entryReporter, item, f field, path, what string) string {
	if !f.set() {
		r.add(item.line(), path, "is missing; give %s a name", what)
		return ""
	}
	name, ok := f.text(r, path)
	if !ok {
		return ""
	}
	return name
}

func checkDNSLabel(r *entryReporter, f field, path, v string) bool {
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		r.add(f.line(), path, "%q is not a valid Kubernetes name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", v)
		return false
	}
	return true
}

// appsKinds are the workload kinds whose apiVersion primetime knows.
var appsKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "ReplicaSet": true}

var kindRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

func validateScaleTargetRef(r *entryReporter, item, f field) ground.ScaleTargetRef {
	var ref ground.ScaleTargetRef
	if !f.set() {
		r.add(item.line(), "scaleTargetRef", "is missing; name the workload, e.g. {kind: Deployment, name: web}")
		return ref
	}
	var raw scaleTargetRefRaw
	if !f.mapping(r, "scaleTargetRef", &raw) && raw == (scaleTargetRefRaw{}) {
		return ref
	}
	if !raw.Kind.set() {
		r.add(f.line(), "scaleTargetRef.kind", "is missing; e.g. Deployment or StatefulSet")
	} else if k, ok := raw.Kind.text(r, "scaleTargetRef.kind"); ok {
		if !kindRE.MatchString(k) {
			r.add(raw.Kind.line(), "scaleTargetRef.kind", "%q is not a Kubernetes kind; write it like Deployment or StatefulSet", k)
		}
		ref.Kind = k
	}
	if !raw.Name.set() {
		r.add(f.line(), "scaleTargetRef.name", "is missing; give the workload's name")
	} else if name, ok := raw.Name.text(r, "scaleTargetRef.name"); ok {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			r.add(raw.Name.line(), "scaleTargetRef.name", "%q is not a valid Kubernetes name", name)
		}
		ref.Name = name
	}
	switch {
	case raw.APIVersion.set():
		if v, ok := raw.APIVersion.text(r, "scaleTargetRef.apiVersion"); ok {
			if strings.Count(v, "/") > 1 || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") {
				r.add(raw.APIVersion.line(), "scaleTargetRef.apiVersion", "%q is not an apiVersion; write it like apps/v1", v)
			}
			ref.APIVersion = v
		}
	case appsKinds[ref.Kind]:
		ref.APIVersion = "apps/v1"
	case ref.Kind != "":
		r.add(f.line(), "scaleTargetRef.apiVersion", "is needed for kind %s, e.g. argoproj.io/v1alpha1", ref.Kind)
	}
	return ref
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func validateLoad(r *entryReporter, ctx *docContext, item, f field, elsewhere bool) ground.LoadSpec {
	var spec ground.LoadSpec
	if !f.set() {
		r.add(item.line(), "load", "is missing; give one load source: prometheus, datadog, scrape or kubernetes")
		return spec
	}
	var raw loadRaw
	if !f.mapping(r, "load", &raw) && raw == (loadRaw{}) {
		return spec
	}
	var given []string
	for name, v := range map[string]field{"prometheus": raw.Prometheus, "datadog": raw.Datadog, "scrape": raw.Scrape, "kubernetes": raw.Kubernetes} {
		if v.set() {
			given = append(given, name)
		}
	}
	switch len(given) {
	case 0:
		r.add(f.line(), "load", "give one load source: prometheus, datadog, scrape or kubernetes")
		return spec
	case 1:
	default:
		sort.Strings(given)
		r.add(f.line(), "load", "give exactly one load source, found %s", strings.Join(given, " and "))
		return spec
	}
	switch {
	case raw.Prometheus.set():
		if q, ok := raw.Prometheus.text(r, "load.prometheus"); ok {
			q, _ = expandQuery(r, ctx, raw.Prometheus, "load.prometheus", q, elsewhere)
			if err := checkBalanced(q); err != nil {
				r.add(raw.Prometheus.line(), "load.prometheus", "%v", err)
			}
			spec.Prometheus = q
		}
	case raw.Datadog.set():
		if q, ok := raw.Datadog.text(r, "load.datadog"); ok {
			var expanded bool
			q, expanded = expandQuery(r, ctx, raw.Datadog, "load.datadog", q, elsewhere)
			if err := checkDatadogQuery(q); err != nil {
				r.add(raw.Datadog.line(), "load.datadog", "%v", err)
			} else if advice, slow := DatadogRollupAdvice(q); slow && expanded {
				r.warn(raw.Datadog.line(), "load.datadog", "%s", advice)
			} else if advice, bare := DatadogBareCountAdvice(q); bare && expanded {
				r.warn(raw.Datadog.line(), "load.datadog", "%s", advice)
			}
			spec.Datadog = q
		}
	case raw.Kubernetes.set():
		spec.Kubernetes = validateKubernetes(r, raw.Kubernetes)
	default:
		spec.Scrape = validateScrape(r, raw.Scrape)
	}
	return spec
}

func validateKubernetes(r *entryReporter, f field) *ground.KubernetesSpec {
	s := &ground.KubernetesSpec{Resource: "cpu"}
	var raw kubernetesRaw
	if !f.mapping(r, "load.kubernetes", &raw) && raw == (kubernetesRaw{}) {
		return s
	}
	s.Selector = validateSelector(r, f, raw.Selector, "load.kubernetes.selector")
	if raw.Resource.set() {
		if v, ok := raw.Resource.text(r, "load.kubernetes.resource"); ok {
			if v != "cpu" {
				r.add(raw.Resource.line(), "load.kubernetes.resource", "only cpu is supported (the load is then in cores), got %q", v)
			}
			s.Resource = v
		}
	}
	return s
}

// validateSelector reads a required, non-empty pod label selector.
func validateSelector(r *entryReporter, parent, f field, path string) string {
	if !f.set() {
		r.add(parent.line(), path, "is missing; give the pods' labels, e.g. \"app=web\"")
		return ""
	}
	sel, ok := f.text(r, path)
	if !ok {
		return ""
	}
	if parsed, err := labels.Parse(sel); err != nil {
		r.add(f.line(), path, "%q is not a label selector: %v", sel, err)
	} else if parsed.Empty() {
		r.add(f.line(), path, "must select something, e.g. \"app=web\"")
	}
	return sel
}

func validateScrape(r *entryReporter, f field) *ground.ScrapeSpec {
	s := &ground.ScrapeSpec{Path: "/metrics"}
	var raw scrapeRaw
	if !f.mapping(r, "load.scrape", &raw) && raw == (scrapeRaw{}) {
		return s
	}
	s.Selector = validateSelector(r, f, raw.Selector, "load.scrape.selector")
	if !raw.Port.set() {
		r.add(f.line(), "load.scrape.port", "is missing; give the pods' metrics port")
	} else if p, ok := raw.Port.integer(r, "load.scrape.port", 1, 65535); ok {
		s.Port = int32(p)
	}
	if raw.Path.set() {
		if p, ok := raw.Path.text(r, "load.scrape.path"); ok {
			if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#") {
				r.add(raw.Path.line(), "load.scrape.path", "%q must be a URL path starting with /, e.g. /metrics", p)
			}
			s.Path = p
		}
	}
	if !raw.Counter.set() {
		r.add(f.line(), "load.scrape.counter", "is missing; give the counter to rate, e.g. http_requests_total")
	} else if c, ok := raw.Counter.text(r, "load.scrape.counter"); ok {
		if !metricNameRE.MatchString(c) {
			r.add(raw.Counter.line(), "load.scrape.counter", "%q is not a Prometheus metric name", c)
		}
		s.Counter = c
	}
	return s
}

// MaxNodesLeadTime bounds nodes.leadTime: placeholders a day ahead are
// a day of idle nodes.
const MaxNodesLeadTime = 2 * time.Hour

func validateNodes(r *entryReporter, f field) *ground.NodesSpec {
	var raw nodesRaw
	if !f.mapping(r, "nodes", &raw) && raw == (nodesRaw{}) {
		return nil
	}
	if !raw.LeadTime.set() {
		r.add(f.line(), "nodes.leadTime", "is missing; give how long a new node takes to join, e.g. 6m")
		return nil
	}
	d, ok := raw.LeadTime.duration(r, "nodes.leadTime", time.Second, MaxNodesLeadTime)
	if !ok {
		return nil
	}
	return &ground.NodesSpec{LeadTime: d}
}

func validateForecast(r *entryReporter, f field) *ground.ForecastSpec {
	spec := &ground.ForecastSpec{Lookback: DefaultLookback}
	var raw forecastRaw
	if !f.mapping(r, "forecast", &raw) && raw == (forecastRaw{}) {
		return spec
	}
	if !raw.Seasonality.set() {
		r.add(f.line(), "forecast.seasonality", "is missing; e.g. 24h for a daily pattern or 168h for a weekly one")
	} else {
		spec.Seasonality, _ = raw.Seasonality.duration(r, "forecast.seasonality", time.Hour, 366*24*time.Hour)
	}
	if raw.Lookback.set() {
		v, _ := raw.Lookback.integer(r, "forecast.lookback", 1, 52)
		spec.Lookback = int(v)
	}
	return spec
}

// checkBalanced catches the usual typos in a query: unbalanced brackets and
// unclosed quotes.
func checkBalanced(q string) error {
	var stack []rune
	closing := map[rune]rune{')': '(', ']': '[', '}': '{'}
	var quote rune
	escaped := false
	for _, c := range q {
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == quote:
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case closing[c] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != closing[c] {
				return fmt.Errorf("%q has an unmatched %q", q, c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("%q has an unclosed %c quote", q, quote)
	}
	if len(stack) > 0 {
		return fmt.Errorf("%q has an unclosed %q", q, stack[len(stack)-1])
	}
	return nil
}

// checkDatadogQuery checks a Datadog metrics query. Queries are batched
// comma-joined, so a comma outside {} or () would split a target's query.
// A grouped query ("... by {pod_name}") returns one series per group where
// primetime needs one number per target: it is refused, saying how to
// aggregate it. The aggregator prefix is optional (system.cpu.idle{*} is a
// valid query, averaged by Datadog); the scope in {} is not.
func checkDatadogQuery(q string) error {
	if err := checkBalanced(q); err != nil {
		return err
	}
	depth := 0
	for i, c := range q {
		switch c {
		case '{':
			if by, ok := groupedBy(q, i); ok {
				return fmt.Errorf("%q is grouped by %s: primetime needs one number per target; drop %q to aggregate over all of them (sum: for a total, avg: for a mean)", q, q[i:closingBrace(q, i)+1], by)
			}
			depth++
		case '(':
			depth++
		case '}', ')':
			depth--
		case ',':
			if depth == 0 {
				return fmt.Errorf("%q holds several queries; give one query per target", q)
			}
		}
	}
	if !strings.Contains(q, "{") {
		return fmt.Errorf("%q is not a Datadog metrics query; write it like sum:trace.http.request.hits{service:web}.as_rate()", q)
	}
	return nil
}

// groupedBy reports whether the { at i opens the tags of a "by {...}"
// clause, and returns the clause with the spaces before it.
func groupedBy(q string, i int) (string, bool) {
	j := i
	for j > 0 && q[j-1] == ' ' {
		j--
	}
	if j < 2 || q[j-2:j] != "by" {
		return "", false
	}
	start := j - 2
	if start > 0 {
		if c := q[start-1]; c != ' ' && c != '}' && c != ')' {
			return "", false // a word ending in "by", not the clause
		}
	}
	for start > 0 && q[start-1] == ' ' {
		start--
	}
	return q[start : closingBrace(q, i)+1], true
}

// closingBrace returns the index of the } that closes the { at i (the
// query is balanced).
func closingBrace(q string, i int) int {
	depth := 0
	for j := i; j < len(q); j++ {
		switch q[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(q) - 1
}

func isDNSLabel(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }

// validateLeadTime checks leadTime, or "leadTime: learned" with its
// minLeadTime (default 1m) and maxLeadTime (required).
func validateLeadTime(r *entryReporter, t *ground.Target, raw targetRaw) {
	learned := false
	if raw.LeadTime.set() {
		if s, ok := raw.LeadTime.text(r, "leadTime"); ok && strings.EqualFold(strings.TrimSpace(s), "learned") {
			learned = true
		} else if _, err := time.ParseDuration(strings.TrimSpace(s)); ok && err != nil && !strings.ContainsAny(s, "0123456789") {
			r.add(raw.LeadTime.line(), "leadTime", "%q is not a duration nor learned; write it like 90s, 15m, 1h30m, or learned", s)
		} else if ok {
			t.LeadTime, _ = raw.LeadTime.duration(r, "leadTime", 0, MaxLeadTime)
		}
	}
	if !learned {
		for _, f := range []struct {
			name string
			f    field
		}{{"minLeadTime", raw.MinLeadTime}, {"maxLeadTime", raw.MaxLeadTime}} {
			if f.f.set() {
				r.add(f.f.line(), f.name, "bounds a learned lead; it goes with leadTime: learned")
			}
		}
		return
	}
	t.LeadLearned, t.MinLeadTime = true, DefaultMinLeadTime
	if raw.MinLeadTime.set() {
		t.MinLeadTime, _ = raw.MinLeadTime.duration(r, "minLeadTime", 0, MaxLeadTime)
	}
	if !raw.MaxLeadTime.set() {
		r.add(raw.LeadTime.line(), "maxLeadTime", "is missing; leadTime: learned needs the longest lead to allow, e.g. maxLeadTime: 10m")
		return
	}
	if v, ok := raw.MaxLeadTime.duration(r, "maxLeadTime", time.Second, MaxLeadTime); ok {
		t.LeadTime = v
		if v < t.MinLeadTime {
			r.add(raw.MaxLeadTime.line(), "maxLeadTime", "must be at least minLeadTime (%s), got %s", FormatDuration(t.MinLeadTime), FormatDuration(v))
		}
	}
}
