package relay

import (
	"context"
	"fmt"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/rules"
	"github.com/hooknote/hooknote/templates"
)

// Preview is one message a webhook would produce: for `hooknote test`.
type Preview struct {
	Rule, Notifier string
	Message        notifiers.Message
	TemplateErr    error // a template failed; Message holds the fallback
	Err            error // the message cannot be sent (recipients failed)
	// Digest, for a rule with digest, says which digest the event would
	// join ("would join digest model=acme/upscaler query.customId=batch-7
	// of rule R …"); Message is then the digest of this one event.
	Digest string
	// Live says that the notifier keeps one message per event: the first
	// webhook posts Message, later ones update it.
	Live  bool
	entry *notifierEntry
}

// Previews renders every message ev would fire, in rule order.
func (c *Config) Previews(ev *replicate.Event) []Preview {
	var out []Preview
	for _, rt := range c.Rules.Match(ev) {
		e := c.notifiers[rt.Notifier]
		cp := *ev
		cp.Rule, cp.Notifier = rt.Rule.Name, rt.Notifier
		p := Preview{Rule: rt.Rule.Name, Notifier: rt.Notifier, entry: e, Live: e.tmpl.live}
		if rule := &c.File.Rules[rt.Rule.Index]; rule.Digest.Duration > 0 {
			values, _ := rules.Group(rule.GroupBy, &cp)
			p.Digest = fmt.Sprintf("would join digest %s of rule %s (sent %s after the last event joined, %s after the first at most, or at %d events)",
				rules.GroupLabel(rule.GroupBy, values), rt.Rule.Name, rule.Digest.Duration, rule.MaxWait(), rule.MaxEvents())
			when := cp.CompletedAt // stable across runs, unlike the receipt
			if when.IsZero() {
				when = cp.ReceivedAt
			}
			d := templates.NewDigest(rt.Rule.Name, rt.Notifier, values, when, when, []*replicate.Event{&cp})
			var m rendered
			m, p.Err = e.tmpl.renderDigest(d, "preview")
			p.Message, p.TemplateErr = m.Message, m.Fallback
			p.Live = false
		} else {
			var m rendered
			m, p.Err = e.tmpl.render(&cp, messageID(ev, rt.Rule.Name, rt.Notifier))
			p.Message, p.TemplateErr = m.Message, m.Fallback
		}
		out = append(out, p)
	}
	return out
}

// Send delivers the previewed message for real, once, within the
// notifier's timeout.
func (p Preview) Send(ctx context.Context) error {
	if p.entry == nil {
		return fmt.Errorf("send preview: no notifier %q", p.Notifier)
	}
	ctx, cancel := context.WithTimeout(ctx, p.entry.timeout)
	defer cancel()
	defer p.entry.afterSend()
	return p.entry.n.Notify(ctx, p.Message)
}
