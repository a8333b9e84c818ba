package relay

import (
	"errors"
	"fmt"
	"strings"

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

// rendered is a rendered message, and what of it the built-in fallback
// replaced: the templates that failed (nil for none). It is sendable all
// the same.
type rendered struct {
	notifiers.Message
	Fallback error
}

// render renders the message for ev. A failing subject, text, HTML or
// channel template is replaced by the built-in fallback and reported in
// Fallback. A failing recipient template is an error (errRecipients): the
// job cannot be delivered.
func (c *messageTemplates) render(ev *replicate.Event, id string) (rendered, error) {
	var m notifiers.Message
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
	m.Subject = exec(c.subject, func() string { return templates.FallbackSubject(ev) })
	m.Text = exec(c.text, func() string { return templates.FallbackText(ev, c.format == notifiers.Slack) })
	m.HTML = exec(c.html, func() string { return "" })
	m.Blocks = exec(c.blocks, func() string { return "" })
	m.Channel = exec(c.channel, func() string { return "" })
	if c.channel != nil && m.Channel == "" {
		return rendered{m, errors.Join(errs...)}, fmt.Errorf("%w: %w: channel rendered empty", errRecipients, errNoRecipients)
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
		return rendered{m, errors.Join(errs...)}, fmt.Errorf("%w: %w", errRecipients, errors.Join(rerrs...))
	}
	if c.to != nil && len(m.To) == 0 {
		return rendered{m, errors.Join(errs...)}, fmt.Errorf("%w: %w: every \"to\" rendered empty", errRecipients, errNoRecipients)
	}
	return rendered{m, errors.Join(errs...)}, nil
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
// digest template is replaced by the built-in digest (Fallback reports it).
func (c *messageTemplates) renderDigest(d *templates.Digest, id string) (rendered, error) {
	if len(d.Events) == 0 {
		return rendered{}, fmt.Errorf("%w: the digest has no event", errRecipients)
	}
	to, fatal := (&messageTemplates{channel: c.channel, to: c.to, cc: c.cc, bcc: c.bcc}).render(d.Events[0], id)
	m := to.Message
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
	m.Subject = exec(c.digest.subject, func() string { return templates.FallbackDigestSubject(d) })
	m.Text = exec(c.digest.text, func() string { return templates.FallbackDigestText(d, c.format == notifiers.Slack) })
	m.HTML = exec(c.digest.html, func() string { return "" })
	return rendered{m, errors.Join(errs...)}, fatal
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
