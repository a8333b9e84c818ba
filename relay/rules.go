package relay

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// knownStatuses are Replicate's six statuses; terminalStatuses the final four.
var (
	knownStatuses    = []string{"starting", "processing", "succeeded", "failed", "canceled", "aborted"}
	terminalStatuses = []string{"succeeded", "failed", "canceled", "aborted"}
)

// isTerminal reports whether a status is final. A status hooknote does not
// know is treated as final (protocol §4: new statuses have been terminal),
// so `terminal` rules still fire for it and later stragglers are ignored.
func isTerminal(status string) bool {
	return status != "starting" && status != "processing"
}

// Rule is one compiled [[rules]] entry.
type Rule struct {
	Name                   string
	Index                  int
	kind                   string          // "" matches any
	statuses               map[string]bool // nil matches any
	statusText             string          // for explanations: "[failed canceled]"
	matchUnknownAsTerminal bool
	model                  string
	deployment             string
	query                  []queryCond
	whenSrc                string
	when                   *vm.Program
	Notify                 []string
	Stop                   bool
}

type queryCond struct{ key, pattern string }

// compileRule validates and compiles one rule section; every problem is
// returned with its key path.
func compileRule(i int, s RuleSection, notifierNames map[string]bool) (*Rule, []error) {
	p := fmt.Sprintf("rules[%d]", i)
	r := &Rule{Name: s.Name, Index: i, Notify: s.Notify, Stop: s.Stop, model: s.Model, deployment: s.Deployment, whenSrc: s.When}
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
	if len(s.Status) > 0 {
		r.statuses = map[string]bool{}
		for j, st := range s.Status {
			switch {
			case st == "terminal":
				r.matchUnknownAsTerminal = true
				for _, t := range terminalStatuses {
					r.statuses[t] = true
				}
			case strings.TrimSpace(st) == "" || st != strings.TrimSpace(st):
				errs = append(errs, fieldErr(fmt.Sprintf("%s.status[%d]", p, j), "%q is not a status", st))
			default:
				r.statuses[st] = true
			}
		}
		r.statusText = "[" + strings.Join(s.Status, " ") + "]"
	}
	for key, pat := range map[string]string{"model": s.Model, "deployment": s.Deployment} {
		if _, err := path.Match(pat, ""); err != nil {
			errs = append(errs, fieldErr(p+"."+key, "bad glob %q: %v", pat, err))
		}
	}
	keys := make([]string, 0, len(s.Query))
	for k := range s.Query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := path.Match(s.Query[k], ""); err != nil {
			errs = append(errs, fieldErr(p+".query."+k, "bad glob %q: %v", s.Query[k], err))
		}
		r.query = append(r.query, queryCond{key: k, pattern: s.Query[k]})
	}
	if s.When != "" {
		prog, err := expr.Compile(s.When, expr.Env(Event{}), expr.AsBool())
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

// Explain returns "" when ev matches the rule, else the first condition that
// failed, in words: `status "succeeded" not in [failed]`.
func (r *Rule) Explain(ev *Event) string {
	if r.kind != "" && ev.Kind != r.kind {
		return fmt.Sprintf("kind %q is not %q", ev.Kind, r.kind)
	}
	if r.statuses != nil && !r.statuses[ev.Status] &&
		!(r.matchUnknownAsTerminal && !slices.Contains(knownStatuses, ev.Status)) {
		return fmt.Sprintf("status %q not in %s", ev.Status, r.statusText)
	}
	if r.model != "" && !globMatch(r.model, ev.Model) {
		return fmt.Sprintf("model %q does not match %q", ev.Model, r.model)
	}
	if r.deployment != "" && !globMatch(r.deployment, ev.Deployment) {
		return fmt.Sprintf("deployment %q does not match %q", ev.Deployment, r.deployment)
	}
	for _, q := range r.query {
		v, ok := ev.Query[q.key]
		if !ok {
			return fmt.Sprintf("query %s is absent", q.key)
		}
		if !globMatch(q.pattern, v) {
			return fmt.Sprintf("query %s %q does not match %q", q.key, v, q.pattern)
		}
	}
	if r.when != nil {
		out, err := expr.Run(r.when, *ev)
		if err != nil {
			return fmt.Sprintf("when %q failed: %s", r.whenSrc, oneLine(err.Error()))
		}
		if b, _ := out.(bool); !b {
			return fmt.Sprintf("when %q is false", r.whenSrc)
		}
	}
	return ""
}

// Match reports whether ev satisfies every condition of the rule.
func (r *Rule) Match(ev *Event) bool { return r.Explain(ev) == "" }

// globMatch matches a glob; "*" matches any value including one with "/".
func globMatch(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return s
}

// match returns the (rule, notifier) pairs ev fires, in rule order; a rule
// with stop ends the search.
func match(rules []*Rule, ev *Event) []pair {
	var out []pair
	for _, r := range rules {
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

type pair struct{ rule, notifier string }
