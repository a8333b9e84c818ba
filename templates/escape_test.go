package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileEvent carries Slack and HTML markup in every payload field.
func hostileEvent() event {
	return event{
		ID: "abc", Kind: "prediction", Status: "failed", Model: "acme/m",
		Error: "<!channel> <@U123> <http://evil|click> & <script>alert(1)</script>",
		Logs:  "line 1\n<!here>\n",
		Input: map[string]any{"prompt": "<!everyone>"},
		URLs:  urls{Web: "https://replicate.com/p/abc?a=1&b=2"},
		Query: map[string]string{"customId": "<@U999>"},
	}
}

// TestSlackEscaping checks that Slack mode escapes every printed value, once,
// and leaves the template's own markup alone.
func TestSlackEscaping(t *testing.T) {
	const esc = "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x.tmpl"), `{{ define "user.x" }}[{{ .Error }}]{{ end }}`)
	set := newSet(t, []string{filepath.Join(dir, "*.tmpl")})
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "field", src: `{{ .Error }}`, want: esc},
		{name: "literal markup", src: `<{{ .URLs.Web }}|View> *bold* <!here>`, want: "<https://replicate.com/p/abc?a=1&amp;b=2|View> *bold* <!here>"},
		{name: "variable escaped once", src: `{{ $x := .Error }}{{ $x }}`, want: esc},
		{name: "assignment prints nothing", src: `{{ $x := "" }}{{ $x = .Error }}{{ $x }}`, want: esc},
		{name: "explicit slackEscape", src: `{{ slackEscape .Error }}`, want: esc},
		{name: "piped slackEscape", src: `{{ .Error | slackEscape }}`, want: esc},
		{name: "slackRaw", src: `{{ slackRaw "<!here>" }}`, want: "<!here>"},
		{name: "str is escaped", src: `{{ str .Error }}`, want: esc},
		{name: "func result", src: `{{ upper .Input.prompt }}{{ printf "%s" .Query.customId }}`, want: "&lt;!EVERYONE&gt;&lt;@U999&gt;"},
		{name: "if range with", src: `{{ if .Error }}{{ .Query.customId }}{{ end }}{{ range $k, $v := .Input }}{{ $k }}={{ $v }}{{ end }}{{ with $y := .Logs }}{{ tail 1 $y }}{{ end }}`, want: "&lt;@U999&gt;prompt=&lt;!everyone&gt;&lt;!here&gt;"},
		{name: "else branches", src: `{{ if not .Error }}x{{ else }}{{ .Input.prompt }}{{ end }}{{ range .Output }}x{{ else }}{{ .Query.customId }}{{ end }}`, want: "&lt;!everyone&gt;&lt;@U999&gt;"},
		{name: "define in source", src: `{{ define "inline" }}{{ .Input.prompt }}{{ end }}{{ template "inline" . }}`, want: "&lt;!everyone&gt;"},
		{name: "define in user file", src: `{{ template "user.x" . }}`, want: "[" + esc + "]"},
		{name: "missing keys", src: `[{{ .Input.missing }}][{{ .Query.missing }}]`, want: "[][]"},
		{name: "line breaks outside a block", src: "x {{ .Logs }}", want: "x line 1 &lt;!here&gt; "},
		{name: "line breaks kept in a block", src: "```{{ .Logs }}```", want: "```line 1\n&lt;!here&gt;\n```"},
		{name: "block opened in a with", src: "{{ with .Logs }}```{{ . }}```{{ end }} {{ .Logs }}", want: "```line 1\n&lt;!here&gt;\n``` line 1 &lt;!here&gt; "},
		{name: "explicit slackBlock", src: "{{ slackBlock .Logs }}", want: "line 1\n&lt;!here&gt;\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execute(t, set, tc.src, Slack, hostileEvent())
			if err != nil {
				t.Fatalf("Execute(%q) = %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Execute(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}

	// The Slack rewrite works on copies: the same Set still renders plain.
	plain := []struct{ src, want string }{
		{src: `{{ template "user.x" . }}`, want: "[" + hostileEvent().Error + "]"},
		{src: `{{ .Input.prompt }}`, want: "<!everyone>"},
	}
	for _, p := range plain {
		got, err := execute(t, set, p.src, None, hostileEvent())
		if err != nil || got != p.want {
			t.Errorf("after Slack: Execute(%q) = %q, %v, want %q", p.src, got, err, p.want)
		}
	}
	text := render(t, set, "email.text", false, None, hostileEvent())
	if !strings.Contains(text, hostileEvent().Error) {
		t.Errorf("email.text after Slack = %q, want the error unescaped", text)
	}
}

// TestSlackDefault checks that the default slack.text escapes the payload.
func TestSlackDefault(t *testing.T) {
	set := newSet(t, nil)
	plainFirst, err := set.Parse("plain", `{{ template "slack.text" . }}`, None)
	if err != nil {
		t.Fatalf("Parse(None) = %v", err)
	}
	out := render(t, set, "slack.text", false, Slack, hostileEvent())
	for _, bad := range []string{"<!", "<@", "<http://evil", "<script"} {
		if strings.Contains(out, bad) {
			t.Errorf("slack.text = %q, contains %q", out, bad)
		}
	}
	if !strings.Contains(out, "<https://replicate.com/p/abc?a=1&amp;b=2|abc>") {
		t.Errorf("slack.text = %q, want the link markup", out)
	}
	// A template parsed before the Slack one is not affected by it.
	got, err := plainFirst.Execute(hostileEvent())
	if err != nil || !strings.Contains(got, "<!channel>") {
		t.Errorf("plain slack.text = %q, %v, want the error unescaped", got, err)
	}
}

// TestLine checks that Line mode renders one line.
func TestLine(t *testing.T) {
	set := newSet(t, nil)
	tests := []struct {
		name string
		src  string
		data any
		want string
	}{
		{name: "header injection", src: `{{ . }}`, data: "a\r\nBcc: x@y", want: "a Bcc: x@y"},
		{name: "template newlines", src: "subject\n{{ . }}\n", data: "x", want: "subject x"},
		{name: "controls and separators", src: `{{ . }}`, data: "\t a\x00b\u2028c\u0085d\x1b \r\n", want: "a b c d"},
		{name: "invalid utf8", src: `{{ . }}`, data: "a\xffb", want: "a\uFFFDb"},
		{name: "missing", src: `[{{ .x }}]`, data: map[string]any{}, want: "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execute(t, set, tc.src, Line, tc.data)
			if err != nil {
				t.Fatalf("Execute(%q) = %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Execute(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
	subject := render(t, set, "email.subject", false, Line, event{Status: "failed", Query: map[string]string{"customId": "7\r\nBcc: evil@example.com"}})
	if strings.ContainsAny(subject, "\r\n") {
		t.Errorf("email.subject = %q, want one line", subject)
	}
}

// TestHTMLEscaping checks that HTML templates escape payload values for
// their context.
func TestHTMLEscaping(t *testing.T) {
	set := newSet(t, nil)
	out := render(t, set, "email.html", true, None, hostileEvent())
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("email.html = %q, want <script> escaped", out)
	}
	tests := []struct {
		name string
		src  string
		data any
		want string
	}{
		{name: "text", src: `<p>{{ .Error }}</p>`, data: event{Error: "<b>x</b>"}, want: "<p>&lt;b&gt;x&lt;/b&gt;</p>"},
		{name: "unsafe url", src: `<a href="{{ .URLs.Web }}">x</a>`, data: event{URLs: urls{Web: "javascript:alert(1)"}}, want: `<a href="#ZgotmplZ">x</a>`},
		{name: "missing keys", src: `[{{ .Input.missing }}][{{ .Query.missing }}]`, data: event{}, want: "[][]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := set.ParseHTML("test", tc.src)
			if err != nil {
				t.Fatalf("ParseHTML(%q) = %v", tc.src, err)
			}
			got, err := tmpl.Execute(tc.data)
			if err != nil || got != tc.want {
				t.Errorf("Execute(%q) = %q, %v, want %q", tc.src, got, err, tc.want)
			}
		})
	}
}

// writeFile writes a test file or fails the test.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSlackInjection: a customId, model or log line cannot add lines,
// break out of a code span or block, or reorder text (DESIGN §6).
func TestSlackInjection(t *testing.T) {
	set := newSet(t, nil)
	tests := []struct {
		name  string
		src   string
		value string
		want  string
	}{
		{name: "fake status line in a code span", src: "customId `{{ .Query.customId }}`",
			value: "x`\n\n:white_check_mark: *Succeeded* https://evil.example/approve\n`",
			want:  "customId `xˋ :white_check_mark: *Succeeded* https://evil.example/approve ˋ`"},
		{name: "backticks closing a block", src: "```{{ .Query.customId }}```\nafter",
			value: "log\n```\n*Succeeded* <!channel>",
			want:  "```log\nˋˋˋ\n*Succeeded* &lt;!channel&gt;```\nafter"},
		{name: "bidi override", src: "model `{{ .Query.customId }}`",
			value: "acme/\u202Egnp.exe\u2066x\u2069",
			want:  "model `acme/gnp.exex`"},
		{name: "line and paragraph separators", src: "*{{ .Query.customId }}*",
			value: "a\u2028b\u2029\r\nc\x00d",
			want:  "*a b c d*"},
		{name: "invalid UTF-8", src: "{{ .Query.customId }}",
			value: "a\xff<b",
			want:  "a\uFFFD&lt;b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := hostileEvent()
			ev.Query = map[string]string{"customId": tc.value}
			got, err := execute(t, set, tc.src, Slack, ev)
			if err != nil {
				t.Fatalf("Execute(%q) = %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Execute(%q) with %q = %q, want %q", tc.src, tc.value, got, tc.want)
			}
		})
	}
}

// TestBlocksEscaping checks Blocks mode: every printed value is
// Slack-escaped (in a code block, with line breaks kept) and then escaped as
// the contents of a JSON string; slackRaw is JSON-escaped only.
func TestBlocksEscaping(t *testing.T) {
	set := newSet(t, nil)
	ev := hostileEvent()
	ev.Model = "a\"b\\c\td\x01e\u2028f\xffg\u202Eh"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "mentions", src: `"{{ .Error }}"`, want: `"&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"`},
		{name: "one line", src: `"{{ .Logs }}"`, want: `"line 1 &lt;!here&gt; "`},
		{name: "code block keeps breaks", src: "\"```{{ .Logs }}```\"", want: "\"```line 1\\n&lt;!here&gt;\\n```\""},
		{name: "json specials", src: `"{{ .Model }}"`, want: `"a\"b\\c d e f` + "\uFFFD" + `gh"`},
		{name: "json specials in a block", src: "\"```{{ .Model }}```\"", want: "\"```a\\\"b\\\\c\\tde\\nf\uFFFDgh```\""},
		{name: "slackRaw", src: `"{{ slackRaw .Input.prompt }}{{ slackRaw .Model }}"`, want: `"<!everyone>a\"b\\c\td\u0001e\u2028f` + "\uFFFDg\u202E" + `h"`},
		{name: "explicit slackEscape", src: `"{{ slackEscape .Query.customId }}"`, want: `"&lt;@U999&gt;"`},
		{name: "variables and ranges", src: `{{ $x := .Error }}[{{ range $k, $v := .Input }}"{{ $k }}": "{{ $v }}"{{ end }}, "{{ truncate 3 $x }}"]`, want: `["prompt": "&lt;!everyone&gt;", "&lt;!…"]`},
		{name: "called template", src: `{{ define "b.x" }}"{{ .Input.prompt }}"{{ end }}{{ template "b.x" . }}`, want: `"&lt;!everyone&gt;"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execute(t, set, tc.src, Blocks, ev)
			if err != nil {
				t.Fatalf("Execute(%q) = %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Execute(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
	if got := Blocks.String(); got != "blocks" {
		t.Errorf("Blocks.String() = %q, want %q", got, "blocks")
	}
	// The same Set still renders slack.text in Slack mode, unchanged.
	if got, want := render(t, set, "slack.text", false, Slack, ev), render(t, newSet(t, nil), "slack.text", false, Slack, ev); got != want {
		t.Errorf("slack.text after Blocks = %q, want %q", got, want)
	}
}
