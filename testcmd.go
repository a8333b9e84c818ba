package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hooknote/hooknote/relay"
	"github.com/hooknote/hooknote/replicate"
)

// testCmd explains how the config routes one body: every rule with match or
// the first condition that failed, then each rendered message.
func testCmd(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("test", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configPath := fl.String("config", defaultConfigPath(), "config file")
	query := fl.String("query", "", "the webhook URL's query, e.g. 'customId=7&kind=training' (default: the body's webhook URL query)")
	doSend := fl.Bool("send", false, "deliver the rendered messages for real")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: hooknote test [-config FILE] [-query Q] [-send] BODY.json")
		return 2
	}
	cfg, err := relay.Load(*configPath, loadOptions(nil))
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	body, err := os.ReadFile(fl.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %v\n", err)
		return 1
	}
	if *query == "" {
		if s, err := replicate.WebhookQuery(body); err == nil {
			*query = s
		}
	}
	q, err := url.ParseQuery(*query)
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: -query: %v\n", err)
		return 2
	}
	ev, err := replicate.Decode(body, q, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "hooknote: %s: %v\n", fl.Arg(0), err)
		return 1
	}
	fmt.Fprintf(stdout, "event %s: %s %s, model %s, query %s\n\n", ev.ID, ev.Kind, ev.Status, ev.Model, orNone(*query))
	stopped := false
	for _, r := range cfg.Rules.Rules() {
		switch why := r.Explain(ev); {
		case stopped:
			fmt.Fprintf(stdout, "  skip      %-24s (an earlier rule has stop = true)\n", r.Name)
		case why == "":
			fmt.Fprintf(stdout, "  match     %-24s → %s\n", r.Name, strings.Join(r.Notify, ", "))
			stopped = r.Stop
		default:
			fmt.Fprintf(stdout, "  no match  %-24s %s\n", r.Name, why)
		}
	}
	failed := false
	for _, p := range cfg.Previews(ev) {
		fmt.Fprintf(stdout, "\n── %s → %s ──\n", p.Rule, p.Notifier)
		if p.Digest != "" {
			fmt.Fprintf(stdout, "%s; the digest of this event alone would read:\n", p.Digest)
		}
		if p.Live {
			fmt.Fprintln(stdout, "(live: the event's first webhook posts this message, later ones update it in place)")
		}
		printMessage(stdout, p)
		if p.Err != nil {
			failed = true
			continue
		}
		if *doSend {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := p.Send(ctx)
			cancel()
			if err != nil {
				failed = true
				fmt.Fprintf(stdout, "send: FAILED: %v\n", err)
			} else {
				fmt.Fprintln(stdout, "send: delivered")
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

func printMessage(w io.Writer, p relay.Preview) {
	m := p.Message
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s: %s\n", name, v)
		}
	}
	field("channel", m.Channel)
	field("to", strings.Join(m.To, ", "))
	field("cc", strings.Join(m.Cc, ", "))
	field("bcc", strings.Join(m.Bcc, ", "))
	field("subject", m.Subject)
	if m.Text != "" {
		fmt.Fprintf(w, "%s\n", m.Text)
	}
	if m.HTML != "" {
		fmt.Fprintf(w, "(and an HTML part of %d bytes)\n", len(m.HTML))
	}
	if m.Blocks != "" {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(m.Blocks), "", "  "); err != nil {
			fmt.Fprintf(w, "blocks (not valid JSON: %v):\n%s\n", err, m.Blocks)
		} else {
			fmt.Fprintf(w, "blocks:\n%s\n", pretty.String())
		}
	}
	if p.TemplateErr != nil {
		fmt.Fprintf(w, "template error (the built-in fallback above would be sent): %v\n", p.TemplateErr)
	}
	if p.Err != nil {
		fmt.Fprintf(w, "cannot send: %v\n", p.Err)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
