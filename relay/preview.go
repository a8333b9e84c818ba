package relay

import (
	"context"
	"fmt"

	"github.com/hooknote/hooknote/notifiers"
)

// Preview is one message a webhook would produce: for `hooknote test`.
type Preview struct {
	Rule, Notifier string
	Message        notifiers.Message
	TemplateErr    error // a template failed; Message holds the fallback
	Err            error // the message cannot be sent (recipients failed)
}

// Previews renders every message ev would fire, in rule order.
func (c *Config) Previews(ev *Event) []Preview {
	var out []Preview
	for _, p := range c.routes.match(ev) {
		e := c.notifiers[p.notifier]
		cp := *ev
		cp.Rule, cp.Notifier = p.rule, p.notifier
		m, tmplErr, fatal := e.tmpl.render(&cp, messageID(ev, p.rule, p.notifier))
		out = append(out, Preview{Rule: p.rule, Notifier: p.notifier, Message: m, TemplateErr: tmplErr, Err: fatal})
	}
	return out
}

// Send delivers a preview for real, once, with the notifier's timeout.
func (c *Config) Send(ctx context.Context, p Preview) error {
	e, ok := c.notifiers[p.Notifier]
	if !ok {
		return fmt.Errorf("unknown notifier %q", p.Notifier)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	return e.n.Notify(ctx, p.Message)
}
