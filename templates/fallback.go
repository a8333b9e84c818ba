package templates

import (
	"fmt"
	"strings"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// FallbackDigestSubject and FallbackDigestText are the built-in digest,
// sent when a digest template fails; slack escapes the payload's values
// for Slack, otherwise they are kept on one line.
func FallbackDigestSubject(d *Digest) string {
	return OneLine(fmt.Sprintf("[hooknote] digest of rule %s: %d events (%s)", d.Rule, d.Count, countsLine(d)))
}

func FallbackDigestText(d *Digest, slack bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hooknote digest of rule %s: %d events (%s), %s to %s\n", value(slack, d.Rule), d.Count, value(slack, countsLine(d)),
		d.First.UTC().Format(time.RFC3339), d.Last.UTC().Format(time.RFC3339))
	for i, ev := range d.Events {
		if i == 20 {
			fmt.Fprintf(&b, "…and %d more\n", len(d.Events)-i)
			break
		}
		fmt.Fprintf(&b, "%s %s %s\n", value(slack, ev.ID), value(slack, ev.Status), value(slack, ev.Model))
	}
	b.WriteString("(the configured digest template failed; this is the built-in fallback — see the hooknote log)")
	return b.String()
}

// countsLine says "3 failed, 2 succeeded": d's statuses in statusCounts'
// order, problems first.
func countsLine(d *Digest) string {
	counts := statusCounts(d.Statuses)
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%d %s", c.Count, c.Status)
	}
	return strings.Join(parts, ", ")
}

// FallbackSubject and FallbackText are the plain built-in message used when
// a template fails at send time: the essentials, no template involved.
func FallbackSubject(ev *replicate.Event) string {
	return OneLine(fmt.Sprintf("[hooknote] %s %s: %s %s", ev.Kind, ev.Status, ev.Model, ev.ID))
}

func FallbackText(ev *replicate.Event, slack bool) string {
	link := ev.URLs.Web
	if link == "" {
		link = ev.URLs.Get
	}
	return fmt.Sprintf("hooknote: %s %s is %s\nmodel: %s\nlink: %s\n(the configured template failed; this is the built-in fallback — see the hooknote log)",
		value(slack, ev.Kind), value(slack, ev.ID), value(slack, ev.Status), value(slack, ev.Model), value(slack, link))
}

// value is a payload value printed on one line of built-in text: escaped
// for Slack (no mentions, links, line breaks or code spans), or kept on one
// line.
func value(slack bool, s string) string {
	if slack {
		return SlackEscape(s)
	}
	return OneLine(s)
}
