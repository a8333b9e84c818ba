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
	c.subject = parse("subject", t.Subject, templates.Line)
	c.text = parse("text", t.Text, textEsc)
	c.channel = parse("channel", t.Channel, templates.Line)
	if t.HTML != "" {
		tm, err := set.ParseHTML(path+".html", t.HTML)
		if err != nil {
			errs = append(errs, config.At(path+".html", err))
		}
		c.html = tm
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
