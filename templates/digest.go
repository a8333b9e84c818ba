package templates

import (
	"cmp"
	"slices"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// maxErrorText is how many runes of an error's first line group it in a
// digest's Errors.
const maxErrorText = 200

// Digest is the dot of a digest template (DESIGN §4 table).
type Digest struct {
	Events         []*replicate.Event // oldest first, one per event id (its latest status)
	Count          int
	Statuses       map[string]int    // status → count
	Group          map[string]string // the group_by values: "model", "kind", "status", "query.KEY" → value
	Errors         []ErrorCount      // distinct error texts, most frequent first (ties: first seen first)
	First, Last    time.Time         // when the first and last event joined
	Rule, Notifier string
}

// ErrorCount is one distinct error text of a digest and how many of its
// events have it.
type ErrorCount struct {
	Text  string
	Count int
}

// NewDigest returns the digest of events, which the caller gives oldest
// first, and fills Count, Statuses and Errors from them. An event whose id
// comes again later is kept only there, as its latest status; nil events
// are skipped. An error's text, for grouping, is its first non-blank line,
// trimmed and cut to 200 runes; events without one count in no error. A nil
// group is an empty one.
func NewDigest(rule, notifier string, group map[string]string, first, last time.Time, events []*replicate.Event) *Digest {
	if group == nil {
		group = map[string]string{}
	}
	d := &Digest{
		Events:   latest(events),
		Statuses: map[string]int{},
		Group:    group,
		First:    first,
		Last:     last,
		Rule:     rule,
		Notifier: notifier,
	}
	d.Count = len(d.Events)
	index := map[string]int{} // error text → its position in d.Errors
	for _, ev := range d.Events {
		d.Statuses[ev.Status]++
		text := truncate(maxErrorText, firstLine(ev.Error))
		if text == "" {
			continue
		}
		i, ok := index[text]
		if !ok {
			i = len(d.Errors)
			index[text] = i
			d.Errors = append(d.Errors, ErrorCount{Text: text})
		}
		d.Errors[i].Count++
	}
	slices.SortStableFunc(d.Errors, func(a, b ErrorCount) int { return cmp.Compare(b.Count, a.Count) })
	return d
}

// latest returns events without nils and with each id only at its last
// position; events without an id are all kept. It returns events itself
// when there is nothing to drop.
func latest(events []*replicate.Event) []*replicate.Event {
	last := make(map[string]int, len(events))
	drop := false
	for i, ev := range events {
		if ev == nil {
			drop = true
			continue
		}
		if ev.ID == "" {
			continue
		}
		if _, ok := last[ev.ID]; ok {
			drop = true
		}
		last[ev.ID] = i
	}
	if !drop {
		return events
	}
	out := make([]*replicate.Event, 0, len(last))
	for i, ev := range events {
		if ev != nil && (ev.ID == "" || last[ev.ID] == i) {
			out = append(out, ev)
		}
	}
	return out
}

// statusCount is one entry of statusCounts.
type statusCount struct {
	Status string
	Count  int
}

// statusOrder is the order statusCounts lists the known statuses in:
// problems first.
var statusOrder = []string{
	replicate.Failed, replicate.Aborted, replicate.Canceled,
	replicate.Succeeded, replicate.Processing, replicate.Starting,
}

// statusCounts lists a status → count map as {Status, Count} entries:
// failed, aborted, canceled, succeeded, processing and starting, then any
// other status by name; statuses counted zero times are left out.
func statusCounts(m map[string]int) []statusCount {
	out := make([]statusCount, 0, len(m))
	for _, s := range statusOrder {
		if n := m[s]; n > 0 {
			out = append(out, statusCount{Status: s, Count: n})
		}
	}
	var others []string
	for s, n := range m {
		if n > 0 && !slices.Contains(statusOrder, s) {
			others = append(others, s)
		}
	}
	slices.Sort(others)
	for _, s := range others {
		out = append(out, statusCount{Status: s, Count: m[s]})
	}
	return out
}

// models returns the distinct non-empty models of events, first seen first.
func models(events []*replicate.Event) []string {
	var out []string
	seen := map[string]bool{}
	for _, ev := range events {
		if ev != nil && ev.Model != "" && !seen[ev.Model] {
			seen[ev.Model] = true
			out = append(out, ev.Model)
		}
	}
	return out
}

// digestPayload returns a digest as the default webhook.digest sends it:
// rule, notifier, group, count, statuses, first and last (RFC 3339, null
// when zero), and events, each as payload builds it. Anything but a digest
// gives nil.
func digestPayload(v any) map[string]any {
	var d *Digest
	switch x := v.(type) {
	case *Digest:
		d = x
	case Digest:
		d = &x
	}
	if d == nil {
		return nil
	}
	events := make([]any, 0, len(d.Events))
	for _, ev := range d.Events {
		if ev != nil {
			events = append(events, payload(ev))
		}
	}
	group, statuses := d.Group, d.Statuses
	if group == nil {
		group = map[string]string{}
	}
	if statuses == nil {
		statuses = map[string]int{}
	}
	return map[string]any{
		"rule":     d.Rule,
		"notifier": d.Notifier,
		"group":    group,
		"count":    d.Count,
		"statuses": statuses,
		"first":    orNil(formatTime(rfc3339, d.First)),
		"last":     orNil(formatTime(rfc3339, d.Last)),
		"events":   events,
	}
}
