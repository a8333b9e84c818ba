package templates

import (
	"encoding/json"
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

// FuzzBlocksRender renders the default slack.blocks in Blocks mode with
// fuzzed payload strings in the model, error, logs, customId, an output URL
// (also the web link) and the input prompt, and a Blocks template of its
// own that prints the prompt. The output is always a valid Block Kit array
// within Slack's limits (checkBlocks), and no decoded string holds a
// mention (<!…>, <@…>) or a bidi control, except what slackRaw printed,
// which comes back exactly. slack.digest with the same values as errors,
// models and group values mentions no one either.
func FuzzBlocksRender(f *testing.F) {
	f.Add("acme/m", "<!channel>", "a\n<@U123>\n", "<!here>", "https://x.test/o.png?a=1&b=2", `"}]},{"type":"x`)
	f.Add("a\"b\\c", "```<!everyone>```", "\r\r\n\n```", "\u202Egnp.exe", "https://x.test/O.GIF", "\\u003c!channel>")
	f.Add("\xff\xfe<", strings.Repeat("&", 3000), strings.Repeat("x\n", 50), "\x00\x1f\u2028", "https://x.test/a.webp", "")
	set, err := New(nil)
	if err != nil {
		f.Fatalf("New(nil) = %v", err)
	}
	blocks, err := set.Parse("fuzz.blocks", `{{ template "slack.blocks" . }}`, Blocks)
	if err != nil {
		f.Fatalf("Parse(slack.blocks) = %v", err)
	}
	own, err := set.Parse("fuzz.own", `[{"type": "section", "text": {"type": "mrkdwn", "text": "*{{ .Input.prompt }}*\n`+"```{{ .Input.prompt }}```"+`"}},
{"type": "context", "elements": [{"type": "plain_text", "text": "{{ slackRaw .Input.prompt }}x"}]}]`, Blocks)
	if err != nil {
		f.Fatalf("Parse(own) = %v", err)
	}
	digest, err := set.Parse("fuzz.digest", `{{ template "slack.digest" . }}`, Slack)
	if err != nil {
		f.Fatalf("Parse(slack.digest) = %v", err)
	}
	f.Fuzz(func(t *testing.T, model, errText, logs, customID, output, prompt string) {
		ev := event{
			ID: "abc", Kind: "prediction", Status: "failed", Model: model,
			Error: errText, Logs: logs, Deployment: customID,
			Input:  map[string]any{"prompt": prompt},
			Output: []any{output, prompt, "https://replicate.delivery/out.png"},
			URLs:   urls{Web: output, Get: "https://api.replicate.com/v1/predictions/abc"},
			Query:  map[string]string{"customId": customID},
		}
		out, err := blocks.Execute(ev)
		if err != nil {
			t.Fatalf("Execute(slack.blocks) = %v", err)
		}
		checkBlocks(t, out, ev)
		checkNoMentions(t, "slack.blocks", out, "")

		out, err = own.Execute(ev)
		if err != nil {
			t.Fatalf("Execute(own) = %v", err)
		}
		var v []struct {
			Text     struct{ Text string }
			Elements []struct{ Text string }
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 2 || len(v[1].Elements) != 1 {
			t.Fatalf("own Blocks template = %q, want two blocks of valid JSON: %v", out, err)
		}
		if got, want := v[1].Elements[0].Text, string([]rune(prompt))+"x"; got != want {
			t.Errorf("slackRaw prompt = %q, want %q", got, want)
		}
		checkNoMentions(t, "own Blocks template", v[0].Text.Text, v[0].Text.Text)

		events := []*event{&ev, {ID: "b", Status: customID, Model: prompt, Error: prompt}}
		d := NewDigest("r", "n", map[string]string{"query.customId": customID, "model": model}, at(0), at(9), events)
		out, err = digest.Execute(d)
		if err != nil {
			t.Fatalf("Execute(slack.digest) = %v", err)
		}
		for _, bad := range []string{"<!", "<@"} {
			if strings.Contains(out, bad) {
				t.Errorf("slack.digest = %q, contains %q", out, bad)
			}
		}
		if strings.ContainsFunc(out, isBidiControl) {
			t.Errorf("slack.digest = %q keeps a bidi control", out)
		}
	})
}

// checkNoMentions decodes out as JSON (text itself when out is not JSON
// but the decoded text of one) and fails when a string in it mentions
// someone (<!channel>, <!here>, <@U…>, any <! or <@) or holds a bidi
// control.
func checkNoMentions(t *testing.T, name, out, text string) {
	t.Helper()
	var strs []string
	if text != "" {
		strs = []string{text}
	} else {
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s = %q, not JSON: %v", name, out, err)
		}
		strs = jsonStrings(v, nil)
	}
	for _, s := range strs {
		if strings.Contains(s, "<!") || strings.Contains(s, "<@") {
			t.Errorf("%s has a mention in %q", name, s)
		}
		if strings.ContainsFunc(s, isBidiControl) {
			t.Errorf("%s keeps a bidi control in %q", name, s)
		}
	}
}

// jsonStrings appends every string value in a decoded JSON value to out.
func jsonStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			out = jsonStrings(e, out)
		}
	case map[string]any:
		for _, e := range x {
			out = jsonStrings(e, out)
		}
	}
	return out
}
