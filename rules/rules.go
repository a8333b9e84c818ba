package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/replicate"
)

// terminalMask has the bits of the four final statuses (replicate.StatusIndex
// 2 to 5).
const terminalMask = 1<<2 | 1<<3 | 1<<4 | 1<<5

// statusBit returns the bit of a known status, 0 for any other word.
func statusBit(status string) uint8 {
	if i := replicate.StatusIndex(status); i >= 0 {
		return 1 << i
	}
	return 0
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

// Compile validates and compiles the i-th rule section; every problem is
// returned as a *config.Error at its key path. The rule is returned even
// when there are problems, so that all of them are reported at once.
// References to notifiers are checked by the config package.
func Compile(i int, s config.Rule) (*Rule, []error) {
	p := fmt.Sprintf("rules[%d]", i)
	r := &Rule{Name: s.DisplayName(i), Index: i, Notify: s.Notify, Stop: s.Stop, whenSrc: s.When, anyStatus: len(s.Status) == 0}
	var errs []error
	switch s.Kind {
	case "", "any":
	case "prediction", "training":
		r.kind = s.Kind
	default:
		errs = append(errs, config.Errorf(p+".kind", "%q is not one of prediction, training, any", s.Kind))
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
			errs = append(errs, config.Errorf(p+"."+f.key, "bad glob %q: %w", f.pattern, err))
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
			errs = append(errs, config.Errorf(p+".query."+k, "bad glob %q: %w", s.Query[k], err))
		}
		r.query = append(r.query, queryCond{key: k, g: g})
	}
	if s.When != "" {
		prog, err := expr.Compile(s.When, expr.Env(&replicate.Event{}), expr.AsBool())
		if err != nil {
			errs = append(errs, config.At(p+".when", err))
		}
		r.when = prog
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
			errs = append(errs, config.Errorf(fmt.Sprintf("%s.status[%d]", p, j), "%q is not a status", st))
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
func (r *Rule) Match(ev *replicate.Event) bool {
	return r.matchCheap(ev) && (r.when == nil || r.whenHolds(ev) == nil)
}

// matchCheap checks every condition but `when`.
func (r *Rule) matchCheap(ev *replicate.Event) bool {
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

func (r *Rule) statusMatches(ev *replicate.Event) bool {
	if r.anyStatus {
		return true
	}
	if bit := statusBit(ev.Status); bit != 0 {
		return r.statusMask&bit != 0
	}
	return r.unknownMatch || r.otherStatuses[ev.Status]
}

// whenHolds evaluates the `when` expression: nil when it is true.
func (r *Rule) whenHolds(ev *replicate.Event) error {
	out, err := expr.Run(r.when, ev)
	if err != nil {
		return fmt.Errorf("when %q failed: %s", r.whenSrc, firstLine(err.Error()))
	}
	if b, _ := out.(bool); !b {
		return fmt.Errorf("when %q is false", r.whenSrc)
	}
	return nil
}

// Explain returns "" when ev matches the rule, else the first condition that
// failed, in words: `status "succeeded" not in [failed]`.
func (r *Rule) Explain(ev *replicate.Event) string {
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

// firstLine is the first line of an expr error (the lines after it point
// at the failing column).
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
