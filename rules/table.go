package rules

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hooknote/hooknote/config"
)

// WriteTable writes the routing table of `hooknote check`: a header and
// one line per rule, in order, with its kind, statuses, model, query,
// when, digest (quiet/max wait/max events, and its group_by) and
// notifiers, its columns separated by tabs (for a text/tabwriter). file is
// the [[rules]] the set was compiled from; "*" stands for "any".
func (rt *Set) WriteTable(w io.Writer, file []config.Rule) error {
	if _, err := fmt.Fprintln(w, "RULE\tKIND\tSTATUS\tMODEL\tQUERY\tWHEN\tDIGEST\tNOTIFY"); err != nil {
		return err
	}
	for _, r := range rt.rules {
		s := file[r.Index]
		keys := make([]string, 0, len(s.Query))
		for k := range s.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = k + "=" + s.Query[k]
		}
		stop := ""
		if r.Stop {
			stop = " (stop)"
		}
		digest := "-"
		if s.Digest.Duration > 0 {
			digest = fmt.Sprintf("%s/%s/%d", s.Digest.Duration, s.MaxWait(), s.MaxEvents())
			if len(s.GroupBy) > 0 {
				digest += " by " + strings.Join(s.GroupBy, ",")
			}
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", r.Name, orAny(s.Kind), orAny(strings.Join(s.Status, ",")),
			orAny(s.Model), orAny(strings.Join(q, "&")), orAny(s.When), digest, strings.Join(r.Notify, ","), stop)
		if err != nil {
			return err
		}
	}
	return nil
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
