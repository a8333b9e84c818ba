package templates

import (
	"strings"
	"testing"
)

// FuzzSlackRender renders the default slack.text in Slack mode with fuzzed
// payload strings in Error, Logs, Input, Query and Deployment. It must never
// fail, and every < and > in the output must be the template's own link
// markup: the event has exactly two links (the web link and one output).
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
	})
}
