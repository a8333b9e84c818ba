package relay

import (
	"context"
	"fmt"

	"github.com/hooknote/hooknote/notifiers"
	"github.com/hooknote/hooknote/replicate"
)

// Preview is one message a webhook would produce: for `hooknote test`.
type Preview struct {
	Rule, Notifier string
	Message        notifiers.Message
	TemplateErr    error // a template failed; Message holds the fallback
	Err            error // the message cannot be sent (recipients failed)
	entry          *notifierEntry
}

// Previews renders every message ev would fire, in rule order.
func (c *Config) Previews(ev *replicate.Event) []Preview {
	var out []Preview
	for _, rt := range c.Rules.Match(ev) {
		e := c.notifiers[rt.Notifier]
		cp := *ev
		cp.Rule, cp.Notifier = rt.Rule.Name, rt.Notifier
		m, tmplErr, fatal := e.tmpl.render(&cp, messageID(ev, rt.Rule.Name, rt.Notifier))
		out = append(out, Preview{Rule: rt.Rule.Name, Notifier: rt.Notifier, Message: m, TemplateErr: tmplErr, Err: fatal, entry: e})
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
