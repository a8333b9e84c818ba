package templates

import (
	"strings"
	"testing"
)

// FuzzSlackRender renders the default slack.text in Slack mode with fuzzed
// payload strings in Error, Logs, Input, Query and Deployment. It must never
// fail; every < and > in the output must be the template's own link markup
// (the event has exactly two links: the web link and one output); the
// output's backticks are the template's own, so no value opens or closes a
// code span or block; outside code blocks the output has as many lines as
// with harmless values, so no value adds a line; and no bidi control
// survives.
func FuzzSlackRender(f *testing.F) {
	f.Add("<!channel>", "a\n<@U123>\n", "<http://evil|click>")
	f.Add("&lt;!here&gt; & <", "\r\r\n\n", "```<!everyone>```")
	f.Add("\xff\xfe<", strings.Repeat("x\n", 50), "")
	f.Add("", "", "<<<!subteam^S123>>>")
	set, err := New(nil)
	if err != nil {
		f.Fatalf("New(nil) = %v", err)
	}
	tmpl, err := set.Parse("fuzz", `{{ template "slack.text" . }}`+"\nprompt: {{ .Input.prompt }}", Slack)
	if err != nil {
		f.Fatalf("Parse = %v", err)
	}
	f.Fuzz(func(t *testing.T, errText, logs, input string) {
		ev := event{
			ID: "abc", Kind: "prediction", Status: "failed", Model: "acme/m",
			Deployment: input, Error: errText, Logs: logs,
			Input:  map[string]any{"prompt": input},
			Output: []any{"https://replicate.delivery/out.png", input},
			URLs:   urls{Web: "https://replicate.com/p/abc"},
			Query:  map[string]string{"customId": errText},
		}
		out, err := tmpl.Execute(ev)
		if err != nil {
			t.Fatalf("Execute(%q, %q, %q) = %v", errText, logs, input, err)
		}
		for _, bad := range []string{"<!", "<@", "<#"} {
			if strings.Contains(out, bad) {
				t.Errorf("Execute(%q, %q, %q) = %q, contains %q", errText, logs, input, out, bad)
			}
		}
		// An input that is itself a clean URL is one more output link.
		links := 2
		if link(input) != "" {
			links = 3
		}
		if lt, gt := strings.Count(out, "<"), strings.Count(out, ">"); lt != links || gt != links {
			t.Errorf("Execute(%q, %q, %q) = %q, has %d < and %d >, want %d of each", errText, logs, input, out, lt, gt, links)
		}
		harmless := ev
		harmless.Deployment, harmless.Error, harmless.Input = orX(input), orX(errText), map[string]any{"prompt": orX(input)}
		harmless.Query = map[string]string{"customId": orX(errText)}
		harmless.Output = []any{"https://replicate.delivery/out.png", orX(input)}
		if link(input) != "" {
			harmless.Output = ev.Output
		}
		harmless.Logs = orX(tail(10, logs)) // the log lines are inside a block
		base, err := tmpl.Execute(harmless)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Count(out, "`"), strings.Count(base, "`"); got != want {
			t.Errorf("Execute(%q, %q, %q) = %q has %d backticks, want the template's %d", errText, logs, input, out, got, want)
		}
		if got, want := linesOutsideBlocks(out), linesOutsideBlocks(base); got != want {
			t.Errorf("Execute(%q, %q, %q) = %q has %d lines outside code blocks, want %d", errText, logs, input, out, got, want)
		}
		if strings.ContainsFunc(out, isBidiControl) {
			t.Errorf("Execute(%q, %q, %q) = %q keeps a bidi control", errText, logs, input, out)
		}
	})
}

// orX is s, or "x" when s is empty (an empty value may drop a whole line
// of the template).
func orX(s string) string {
	if strings.TrimSpace(s) == "" {
		return s
	}
	return "x"
}

// linesOutsideBlocks counts the line breaks of out that are not inside a
// ``` code block.
func linesOutsideBlocks(out string) int {
	n := 0
	for i, part := range strings.Split(out, "```") {
		if i%2 == 0 {
			n += strings.Count(part, "\n")
		}
	}
	return n
}
