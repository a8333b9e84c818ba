package rules

import (
	"encoding/json"
	"strings"

	"github.com/hooknote/hooknote/replicate"
)

// Group returns the values of a rule's group_by fields for ev
// ("query.customId" → value) and the name of the group they make (their
// values in group_by order, as a JSON array): events with the same name
// share a digest.
func Group(by []string, ev *replicate.Event) (map[string]string, string) {
	values := make(map[string]string, len(by))
	ordered := make([]string, len(by))
	for i, g := range by {
		var v string
		switch {
		case g == "model":
			v = ev.Model
		case g == "kind":
			v = ev.Kind
		case g == "status":
			v = ev.Status
		default:
			v = ev.Query[strings.TrimPrefix(g, "query.")]
		}
		values[g], ordered[i] = v, v
	}
	name, _ := json.Marshal(ordered) // strings always marshal
	return values, string(name)
}

// GroupLabel prints a digest group for people: "model=acme/upscaler
// query.customId=batch-7", or "(one group)" without group_by.
func GroupLabel(by []string, values map[string]string) string {
	if len(by) == 0 {
		return "(one group)"
	}
	parts := make([]string, len(by))
	for i, g := range by {
		parts[i] = g + "=" + values[g]
	}
	return strings.Join(parts, " ")
}
