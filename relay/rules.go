package relay

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// knownStatuses are Replicate's six statuses, in the order of their bits in
// Rule.statusMask; the last four are terminal.
var knownStatuses = []string{"starting", "processing", "succeeded", "failed", "canceled", "aborted"}

const terminalMask = 1<<2 | 1<<3 | 1<<4 | 1<<5

// statusBit returns the bit of a known status, 0 for any other word.
func statusBit(status string) uint8 {
	for i, s := range knownStatuses {
		if s == status {
			return 1 << i
		}
	}
	return 0
}

// isTerminal reports whether a status is final. A status hooknote does not
// know is treated as final (protocol §4: new statuses have been terminal),
// so `terminal` rules still fire for it and later stragglers are ignored.
func isTerminal(status string) bool {
	return status != "starting" && status != "processing"
}

// Rule is one compiled [[rules]] entry.
type Rule struct {
	Name   string
	Index  int
	Notify []string
	Stop   bool

	kind          string // "" matches any
	anyStatus     bool
	statusMask    uint8           // known statuses that match
	otherStatuses map[string]bool // unknown words listed as-is
	unknownMatch  bool            // `terminal` was listed: unknown statuses match
	statusText    string          // for explanations: "[failed canceled]"
	model         *glob
	deployment    *glob
	query         []queryCond
	whenSrc       string
	when          *vm.Program
}

type queryCond struct {
	key string
	g   glob
}

// compileRule validates and compiles one rule section; every problem is
// returned with its key path.
func compileRule(i int, s RuleSection, notifierNames map[string]bool) (*Rule, []error) {
	p := fmt.Sprintf("rules[%d]", i)
	r := &Rule{Name: s.Name, Index: i, Notify: s.Notify, Stop: s.Stop, whenSrc: s.When, anyStatus: len(s.Status) == 0}
	var errs []error
	if r.Name == "" {
		r.Name = fmt.Sprintf("rule-%d", i)
	}
	switch s.Kind {
	case "", "any":
	case "prediction", "training":
		r.kind = s.Kind
	default:
		errs = append(errs, fieldErr(p+".kind", "%q is not one of prediction, training, any", s.Kind))
	}
	errs = append(errs, r.compileStatus(p, s.Status)...)
	for _, f := range []struct {
		key, pattern string
		dst          **glob
	}{{"model", s.Model, &r.model}, {"deployment", s.Deployment, &r.deployment}} {
		if f.pattern == "" {
			continue
		}
		g, err := compileGlob(f.pattern)
		if err != nil {
			errs = append(errs, fieldErr(p+"."+f.key, "bad glob %q: %v", f.pattern, err))
		}
		*f.dst = &g
	}
	keys := make([]string, 0, len(s.Query))
	for k := range s.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, err := compileGlob(s.Query[k])
		if err != nil {
			errs = append(errs, fieldErr(p+".query."+k, "bad glob %q: %v", s.Query[k], err))
		}
		r.query = append(r.query, queryCond{key: k, g: g})
	}
	if s.When != "" {
		prog, err := expr.Compile(s.When, expr.Env(&Event{}), expr.AsBool())
		if err != nil {
			errs = append(errs, fieldErr(p+".when", "%s", oneLine(err.Error())))
		}
		r.when = prog
	}
	if len(s.Notify) == 0 {
		errs = append(errs, fieldErr(p+".notify", "names no notifier"))
	}
	for j, n := range s.Notify {
		if !notifierNames[n] {
			errs = append(errs, fieldErr(fmt.Sprintf("%s.notify[%d]", p, j), "unknown notifier %q", n))
		}
	}
	return r, errs
}

func (r *Rule) compileStatus(p string, statuses []string) []error {
	var errs []error
	for j, st := range statuses {
		switch bit := statusBit(st); {
		case st == "terminal":
			r.unknownMatch = true
			r.statusMask |= terminalMask
		case bit != 0:
			r.statusMask |= bit
		case strings.TrimSpace(st) == "" || st != strings.TrimSpace(st):
			errs = append(errs, fieldErr(fmt.Sprintf("%s.status[%d]", p, j), "%q is not a status", st))
		default:
			if r.otherStatuses == nil {
				r.otherStatuses = map[string]bool{}
			}
			r.otherStatuses[st] = true
		}
	}
	r.statusText = "[" + strings.Join(statuses, " ") + "]"
	return errs
}

// Match reports whether ev satisfies every condition of the rule. It
// allocates nothing unless the rule has a `when` expression.
func (r *Rule) Match(ev *Event) bool {
	return r.matchCheap(ev) && (r.when == nil || r.whenHolds(ev) == nil)
}

// matchCheap checks every condition but `when`.
func (r *Rule) matchCheap(ev *Event) bool {
	if r.kind != "" && ev.Kind != r.kind {
		return false
	}
	if !r.statusMatches(ev) {
		return false
	}
	if r.model != nil && !r.model.match(ev.Model) {
		return false
	}
	if r.deployment != nil && !r.deployment.match(ev.Deployment) {
		return false
	}
	for i := range r.query {
		v, ok := ev.Query[r.query[i].key]
		if !ok || !r.query[i].g.match(v) {
			return false
		}
	}
	return true
}

func (r *Rule) statusMatches(ev *Event) bool {
	if r.anyStatus {
		return true
	}
	if bit := statusBit(ev.Status); bit != 0 {
		return r.statusMask&bit != 0
	}
	return r.unknownMatch || r.otherStatuses[ev.Status]
}

// whenHolds evaluates the `when` expression: nil when it is true.
func (r *Rule) whenHolds(ev *Event) error {
	out, err := expr.Run(r.when, ev)
	if err != nil {
		return fmt.Errorf("when %q failed: %s", r.whenSrc, oneLine(err.Error()))
	}
	if b, _ := out.(bool); !b {
		return fmt.Errorf("when %q is false", r.whenSrc)
	}
	return nil
}

// Explain returns "" when ev matches the rule, else the first condition that
// failed, in words: `status "succeeded" not in [failed]`.
func (r *Rule) Explain(ev *Event) string {
	switch {
	case r.kind != "" && ev.Kind != r.kind:
		return fmt.Sprintf("kind %q is not %q", ev.Kind, r.kind)
	case !r.statusMatches(ev):
		return fmt.Sprintf("status %q not in %s", ev.Status, r.statusText)
	case r.model != nil && !r.model.match(ev.Model):
		return fmt.Sprintf("model %q does not match %q", ev.Model, r.model.pattern)
	case r.deployment != nil && !r.deployment.match(ev.Deployment):
		return fmt.Sprintf("deployment %q does not match %q", ev.Deployment, r.deployment.pattern)
	}
	for _, q := range r.query {
		v, ok := ev.Query[q.key]
		if !ok {
			return fmt.Sprintf("query %s is absent", q.key)
		}
		if !q.g.match(v) {
			return fmt.Sprintf("query %s %q does not match %q", q.key, v, q.g.pattern)
		}
	}
	if r.when != nil {
		if err := r.whenHolds(ev); err != nil {
			return err.Error()
		}
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// routes is the rule set with an index, so that a thousand rules routed by
// model or customId do not mean a thousand evaluations. Each rule is filed
// under one condition that an event must meet exactly: a literal model, else
// a literal query value, else a query prefix ("batch-7-*"), else a model
// prefix ("acme/*"); rules with none are evaluated for every event. An event
// evaluates only the rules filed under its own values, in rule order, so
// `stop` keeps its meaning.
type routes struct {
	rules  []*Rule
	byKey  map[indexKey][]int // rule positions, ascending
	fields []indexField       // the (field, prefix?) pairs in byKey
	rest   []int              // rules evaluated for every event
	// needFull: some rule has a `when` expression, which may read any
	// field, so intake decodes events completely.
	needFull bool
}

// indexKey files a rule: the field ("" for the model, else a query key),
// whether value is a prefix, and the literal value or prefix.
type indexKey struct {
	field  string
	prefix bool
	value  string
}

type indexField struct {
	field  string
	prefix bool
}

func newRoutes(rules []*Rule) *routes {
	rt := &routes{rules: rules, byKey: map[indexKey][]int{}}
	seen := map[indexField]bool{}
	for i, r := range rules {
		rt.needFull = rt.needFull || r.when != nil
		k, ok := indexOf(r)
		if !ok {
			rt.rest = append(rt.rest, i)
			continue
		}
		rt.byKey[k] = append(rt.byKey[k], i)
		if f := (indexField{k.field, k.prefix}); !seen[f] {
			seen[f] = true
			rt.fields = append(rt.fields, f)
		}
	}
	return rt
}

// indexOf picks the condition a rule is filed under.
func indexOf(r *Rule) (indexKey, bool) {
	if r.model != nil && r.model.shape == globLiteral {
		return indexKey{value: r.model.lit}, true
	}
	for _, shape := range []globShape{globLiteral, globPrefix} {
		for _, q := range r.query {
			if q.g.shape == shape && q.key != "" {
				return indexKey{field: q.key, prefix: shape == globPrefix, value: q.g.lit}, true
			}
		}
	}
	if r.model != nil && r.model.shape == globPrefix {
		return indexKey{prefix: true, value: r.model.lit}, true
	}
	return indexKey{}, false
}

// match returns the (rule, notifier) pairs ev fires, in rule order; a rule
// with stop ends the search.
func (rt *routes) match(ev *Event) []pair {
	cand := rt.rest
	for _, f := range rt.fields {
		v, ok := ev.Model, true
		if f.field != "" {
			v, ok = ev.Query[f.field]
		}
		if !ok {
			continue
		}
		if !f.prefix {
			cand = mergeSorted(cand, rt.byKey[indexKey{field: f.field, value: v}])
			continue
		}
		for n := 0; n <= len(v); n++ {
			cand = mergeSorted(cand, rt.byKey[indexKey{field: f.field, prefix: true, value: v[:n]}])
		}
	}
	var out []pair
	for _, i := range cand {
		r := rt.rules[i]
		if !r.Match(ev) {
			continue
		}
		for _, n := range r.Notify {
			out = append(out, pair{rule: r.Name, notifier: n})
		}
		if r.Stop {
			break
		}
	}
	return out
}

// mergeSorted merges two ascending lists into a new one (a itself when b
// is empty).
func mergeSorted(a, b []int) []int {
	if len(b) == 0 {
		return a
	}
	out := make([]int, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

type pair struct{ rule, notifier string }
