package relay

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hooknote/hooknote/config"
	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/templates"
)

// messageTemplates is a notifier's parsed templates.
type messageTemplates struct {
	format        notifiers.Format
	subject, text *templates.Template
	html, channel *templates.Template
	to, cc, bcc   []*templates.Template
	blocks        *templates.Template // Block Kit (Slack format = "blocks")
	live          bool                // one message per event, updated in place
	thread        *templates.Template // live: the reply on a final status
	digest        digestTemplates
}

// digestTemplates render a digest's message; their dot is a
// templates.Digest.
type digestTemplates struct {
	subject, text, html *templates.Template
}

// compileTemplates parses every template a notifier asked for. path is the
// notifier's key path, used in errors ("notifiers.ml-alerts").
func compileTemplates(set *templates.Set, path string, t notifiers.Templates) (*messageTemplates, []error) {
	c := &messageTemplates{format: t.TextFormat}
	var errs []error
	parse := func(key, src string, esc templates.Escape) *templates.Template {
		if src == "" {
			return nil
		}
		tm, err := set.Parse(path+"."+key, src, esc)
		if err != nil {
			errs = append(errs, config.At(path+"."+key, err))
		}
		return tm
	}
	textEsc := templates.None
	if t.TextFormat == notifiers.Slack {
		textEsc = templates.Slack
	}
	parseHTML := func(key, src string) *templates.Template {
		if src == "" {
			return nil
		}
		tm, err := set.ParseHTML(path+"."+key, src)
		if err != nil {
			errs = append(errs, config.At(path+"."+key, err))
		}
		return tm
	}
	c.subject = parse("subject", t.Subject, templates.Line)
	c.text = parse("text", t.Text, textEsc)
	c.channel = parse("channel", t.Channel, templates.Line)
	c.html = parseHTML("html", t.HTML)
	c.blocks = parse("blocks", t.Blocks, templates.Blocks)
	c.live = t.Live
	c.thread = parse("thread", t.Thread, textEsc)
	c.digest = digestTemplates{
		subject: parse("digest_subject", t.Digest.Subject, templates.Line),
		text:    parse("digest_text", t.Digest.Text, textEsc),
		html:    parseHTML("digest_html", t.Digest.HTML),
	}
	list := func(key string, srcs []string) []*templates.Template {
		var out []*templates.Template
		for i, s := range srcs {
			out = append(out, parse(fmt.Sprintf("%s[%d]", key, i), s, templates.Line))
		}
		return out
	}
	c.to, c.cc, c.bcc = list("to", t.To), list("cc", t.Cc), list("bcc", t.Bcc)
	return c, errs
}

// errRecipients marks a render failure no fallback can mend: without its
// recipients a message cannot be sent.
var errRecipients = errors.New("render recipients")

// errNoRecipients marks recipients that rendered empty: for this event
// (e.g. a query parameter it lacks), not a broken template.
var errNoRecipients = errors.New("no recipients")

// render renders the message for ev. A failing subject, text, HTML or
// channel template is replaced by the built-in fallback and reported in
// tmplErr; the message is still sendable. A failing recipient template is
// fatal (errRecipients): the job cannot be delivered.
func (c *messageTemplates) render(ev *replicate.Event, id string) (m notifiers.Message, tmplErr error, fatal error) {
	m.ID = id
	var errs []error
	exec := func(t *templates.Template, fallback func() string) string {
		if t == nil {
			return ""
		}
		out, err := t.Execute(ev)
		if err != nil {
			errs = append(errs, err)
			return fallback()
		}
		return out
	}
	m.Subject = exec(c.subject, func() string { return fallbackSubject(ev) })
	m.Text = exec(c.text, func() string { return fallbackText(ev, c.format) })
	m.HTML = exec(c.html, func() string { return "" })
	m.Blocks = exec(c.blocks, func() string { return "" })
	m.Channel = exec(c.channel, func() string { return "" })
	if c.channel != nil && m.Channel == "" {
		return m, errors.Join(errs...), fmt.Errorf("%w: %w: channel rendered empty", errRecipients, errNoRecipients)
	}
	var rerrs []error
	for _, l := range []struct {
		ts  []*templates.Template
		dst *[]string
	}{{c.to, &m.To}, {c.cc, &m.Cc}, {c.bcc, &m.Bcc}} {
		for _, t := range l.ts {
			out, err := t.Execute(ev)
			if err != nil {
				rerrs = append(rerrs, err)
				continue
			}
			if s := strings.TrimSpace(out); s != "" {
				*l.dst = append(*l.dst, s)
			}
		}
	}
	if len(rerrs) > 0 {
		return m, errors.Join(errs...), fmt.Errorf("%w: %w", errRecipients, errors.Join(rerrs...))
	}
	if c.to != nil && len(m.To) == 0 {
		return m, errors.Join(errs...), fmt.Errorf("%w: %w: every \"to\" rendered empty", errRecipients, errNoRecipients)
	}
	return m, errors.Join(errs...), nil
}

// renderThread renders the reply in a live message's thread for ev: ""
// when the template renders blank (no reply). A failing template gives
// no reply either (tmplErr reports it): the message itself says the
// status.
func (c *messageTemplates) renderThread(ev *replicate.Event) (text string, tmplErr error) {
	if c.thread == nil {
		return "", nil
	}
	out, err := c.thread.Execute(ev)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(out) == "" {
		return "", nil
	}
	return out, nil
}

// renderDigest renders the message of digest d: the digest templates, and
// the recipients (channel, to, cc, bcc) as for d's first event. A failing
// digest template is replaced by the built-in digest (tmplErr reports it).
func (c *messageTemplates) renderDigest(d *templates.Digest, id string) (m notifiers.Message, tmplErr error, fatal error) {
	if len(d.Events) == 0 {
		return m, nil, fmt.Errorf("%w: the digest has no event", errRecipients)
	}
	m, _, fatal = (&messageTemplates{channel: c.channel, to: c.to, cc: c.cc, bcc: c.bcc}).render(d.Events[0], id)
	var errs []error
	exec := func(t *templates.Template, fallback func() string) string {
		if t == nil {
			return ""
		}
		out, err := t.Execute(d)
		if err != nil {
			errs = append(errs, err)
			return fallback()
		}
		return out
	}
	m.Subject = exec(c.digest.subject, func() string { return fallbackDigestSubject(d) })
	m.Text = exec(c.digest.text, func() string { return fallbackDigestText(d, c.format) })
	m.HTML = exec(c.digest.html, func() string { return "" })
	return m, errors.Join(errs...), fatal
}

// fallbackDigestSubject and fallbackDigestText are the built-in digest,
// sent when a digest template fails.
func fallbackDigestSubject(d *templates.Digest) string {
	return templates.OneLine(fmt.Sprintf("[hooknote] digest of rule %s: %d events (%s)", d.Rule, d.Count, statusCounts(d)))
}

func fallbackDigestText(d *templates.Digest, f notifiers.Format) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hooknote digest of rule %s: %d events (%s), %s to %s\n", value(f, d.Rule), d.Count, value(f, statusCounts(d)),
		d.First.UTC().Format(time.RFC3339), d.Last.UTC().Format(time.RFC3339))
	for i, ev := range d.Events {
		if i == 20 {
			fmt.Fprintf(&b, "…and %d more\n", len(d.Events)-i)
			break
		}
		fmt.Fprintf(&b, "%s %s %s\n", value(f, ev.ID), value(f, ev.Status), value(f, ev.Model))
	}
	b.WriteString("(the configured digest template failed; this is the built-in fallback — see the hooknote log)")
	return b.String()
}

// statusCounts says "3 failed, 2 succeeded", most frequent first.
func statusCounts(d *templates.Digest) string {
	statuses := make([]string, 0, len(d.Statuses))
	for s := range d.Statuses {
		statuses = append(statuses, s)
	}
	slices.SortFunc(statuses, func(a, b string) int { return cmp.Or(d.Statuses[b]-d.Statuses[a], strings.Compare(a, b)) })
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = fmt.Sprintf("%d %s", d.Statuses[s], s)
	}
	return strings.Join(parts, ", ")
}

// fallbackSubject and fallbackText are the plain built-in message used when
// a template fails at send time: the essentials, no template involved.
func fallbackSubject(ev *replicate.Event) string {
	return templates.OneLine(fmt.Sprintf("[hooknote] %s %s: %s %s", ev.Kind, ev.Status, ev.Model, ev.ID))
}

func fallbackText(ev *replicate.Event, f notifiers.Format) string {
	link := ev.URLs.Web
	if link == "" {
		link = ev.URLs.Get
	}
	return fmt.Sprintf("hooknote: %s %s is %s\nmodel: %s\nlink: %s\n(the configured template failed; this is the built-in fallback — see the hooknote log)",
		value(f, ev.Kind), value(f, ev.ID), value(f, ev.Status), value(f, ev.Model), value(f, link))
}

// value is a payload value printed on one line of built-in text in format
// f: escaped for Slack (no mentions, links, line breaks or code spans), or
// kept on one line.
func value(f notifiers.Format, s string) string {
	if f == notifiers.Slack {
		return templates.SlackEscape(s)
	}
	return templates.OneLine(s)
}

// messageID is a job's Message.ID: the same for every attempt of one
// (event, status, rule, notifier).
func messageID(ev *replicate.Event, rule, notifier string) string {
	return ev.ID + "." + ev.Status + "." + rule + "." + notifier
}
