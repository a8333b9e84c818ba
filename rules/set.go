package rules

import (
	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

// Set is the compiled rules with an index, so that a thousand rules routed
// by model or customId do not mean a thousand evaluations. Each rule is filed
// under one condition that an event must meet exactly: a literal model, else
// a literal query value, else a query prefix ("batch-7-*"), else a model
// prefix ("acme/*"); rules with none are evaluated for every event. An event
// evaluates only the rules filed under its own values, in rule order, so
// `stop` keeps its meaning.
type Set struct {
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

// New compiles the rule sections in file order and indexes them. Every
// problem is returned (as *config.Error); the Set is usable only when there
// are none.
func New(sections []config.Rule) (*Set, []error) {
	var errs []error
	rules := make([]*Rule, 0, len(sections))
	for i, s := range sections {
		r, rerrs := Compile(i, s)
		errs = append(errs, rerrs...)
		rules = append(rules, r)
	}
	return index(rules), errs
}

// Rules returns the rules in file order.
func (rt *Set) Rules() []*Rule { return rt.rules }

// NeedsFull reports whether some rule has a `when` expression, which may
// read any field of the event: intake must then decode events completely.
func (rt *Set) NeedsFull() bool { return rt.needFull }

func index(rules []*Rule) *Set {
	rt := &Set{rules: rules, byKey: map[indexKey][]int{}}
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

// Route is one (rule, notifier) pair an event fires.
type Route struct {
	Rule     *Rule
	Notifier string
}

// Match returns the routes ev fires, in rule order and, within a rule, in
// notify order; a rule with stop ends the search.
func (rt *Set) Match(ev *replicate.Event) []Route {
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
	var out []Route
	for _, i := range cand {
		r := rt.rules[i]
		if !r.Match(ev) {
			continue
		}
		for _, n := range r.Notify {
			out = append(out, Route{Rule: r, Notifier: n})
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
