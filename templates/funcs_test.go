package templates

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// execute parses src in mode esc from set and executes it.
func execute(t *testing.T, set *Set, src string, esc Escape, data any) (string, error) {
	t.Helper()
	tmpl, err := set.Parse("test", src, esc)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", src, err)
	}
	return tmpl.Execute(data)
}

// TestFuncs calls every function the way a template does, with ordinary and
// hostile values.
func TestFuncs(t *testing.T) {
	data := funcData()
	tests := funcCases()
	set := newSet(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execute(t, set, tc.src, None, data)
			if err != nil {
				t.Fatalf("Execute(%q) = %v", tc.src, err)
			}
			if got != tc.want {
				t.Errorf("Execute(%q) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

// funcCase is one template calling a function, and its output.
type funcCase struct {
	name string
	src  string
	want string
}

// funcData is the dot of every funcCase.
func funcData() map[string]any {
	return map[string]any{
		"ev": event{
			Status: "failed", StartedAt: at(1.5), CompletedAt: at(9.25),
			Metrics: metrics{PredictTime: 83.5},
			Query:   map[string]string{"customId": "batch-7"},
			Input:   map[string]any{"prompt": "hi", "null": nil},
		},
		"invalid":  "ab\xffcd\xfe",
		"crlf":     "a\r\nb\rc\nd\n",
		"hostile":  "<!channel> <@U123> <http://evil|click> & co",
		"strs":     []string{"a", "b", "c"},
		"anys":     []any{"x", 1.5, nil, true},
		"nested":   map[string]any{"images": []any{"https://x.test/a.png", "data:image/png;base64,AAA", "not a url"}, "b": "https://x.test/b|c", "a": map[string]any{"deep": "http://x.test/deep.png"}},
		"training": map[string]any{"version": "acme/m:1", "weights": "https://x.test/w.tar"},
		"t":        time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600)),
		"zero":     time.Time{},
		"dur":      90 * time.Second,
	}
}

// funcCases are the TestFuncs cases.
func funcCases() []funcCase {
	return []funcCase{
		{name: "duration seconds", src: `{{ duration 83.5 }}`, want: "1m 24s"},
		{name: "duration decimal", src: `{{ duration 7.75 }}`, want: "7.8s"},
		{name: "duration whole", src: `{{ duration 12 }}`, want: "12s"},
		{name: "duration rounds up to a minute", src: `{{ duration 59.96 }}`, want: "1m 0s"},
		{name: "duration ms", src: `{{ duration 0.35 }}`, want: "350ms"},
		{name: "duration tiny", src: `{{ duration 0.0001 }}`, want: "<1ms"},
		{name: "duration hours", src: `{{ duration 7387 }}`, want: "2h 3m"},
		{name: "duration days", src: `{{ duration 100000 }}`, want: "1d 3h"},
		{name: "duration zero", src: `{{ duration 0 }}`, want: ""},
		{name: "duration negative", src: `{{ duration -3 }}`, want: ""},
		{name: "duration missing", src: `{{ duration .nothing }}`, want: ""},
		{name: "duration text", src: `{{ duration "12.5" }}|{{ duration "soon" }}`, want: "12.5s|"},
		{name: "duration time.Duration", src: `{{ duration .dur }}`, want: "1m 30s"},
		{name: "duration metric", src: `{{ duration .ev.Metrics.PredictTime }}`, want: "1m 24s"},
		{name: "duration span", src: `{{ duration .ev.StartedAt .ev.CompletedAt }}`, want: "7.8s"},
		{name: "duration span reversed", src: `{{ duration .ev.CompletedAt .ev.StartedAt }}`, want: ""},
		{name: "duration span zero end", src: `{{ duration .ev.StartedAt .zero }}`, want: ""},
		{name: "truncate short", src: `{{ truncate 5 "héllo" }}`, want: "héllo"},
		{name: "truncate cut", src: `{{ truncate 4 "héllo wörld" }}`, want: "hél…"},
		{name: "truncate pipe", src: `{{ "abcdef" | truncate 3 }}`, want: "ab…"},
		{name: "truncate zero", src: `{{ truncate 0 "abc" }}`, want: ""},
		{name: "truncate invalid utf8", src: `{{ truncate 4 .invalid }}`, want: "ab\uFFFD…"},
		{name: "truncate nil", src: `{{ truncate 4 .nothing }}`, want: ""},
		{name: "tail", src: `{{ tail 2 .crlf }}`, want: "c\nd"},
		{name: "tail CR and CRLF breaks", src: `{{ tail 3 .crlf }}`, want: "b\nc\nd"},
		{name: "tail more than all", src: `{{ tail 10 .crlf }}`, want: "a\nb\nc\nd"},
		{name: "tail zero", src: `{{ tail 0 .crlf }}`, want: ""},
		{name: "tail only newlines", src: `{{ tail 3 "\n\n\r\n" }}`, want: ""},
		{name: "json", src: `{{ json .training }}`, want: `{"version":"acme/m:1","weights":"https://x.test/w.tar"}`},
		{name: "json hostile", src: `{{ json .hostile }}`, want: `"<!channel> <@U123> <http://evil|click> & co"`},
		{name: "json nil", src: `{{ json .nothing }}`, want: `null`},
		{name: "default empty", src: `{{ default "none" "" }}|{{ default "none" .nothing }}|{{ default 5 0 }}`, want: "none|none|5"},
		{name: "default set", src: `{{ default "none" "x" }}|{{ default "none" .ev.Query.customId }}`, want: "x|batch-7"},
		{name: "default empty list", src: `{{ default "none" .empty }}{{ default "none" (outputs "") }}`, want: "nonenone"},
		{name: "default time", src: `{{ default "never" .zero }}`, want: "never"},
		{name: "join strings", src: `{{ join ", " .strs }}`, want: "a, b, c"},
		{name: "join anys", src: `{{ join "|" .anys }}`, want: "x|1.5||true"},
		{name: "join nil", src: `{{ join ", " .nothing }}`, want: ""},
		{name: "join string", src: `{{ join ", " "abc" }}`, want: "abc"},
		{name: "outputs nested", src: `{{ join " " (outputs .nested) }}`, want: "http://x.test/deep.png https://x.test/a.png"},
		{name: "outputs string", src: `{{ outputs "https://x.test/o.png" }}`, want: "[https://x.test/o.png]"},
		{name: "outputs non-url", src: `{{ outputs "hello" }}|{{ outputs .nothing }}|{{ outputs 3 }}`, want: "[]|[]|[]"},
		{name: "outputs training", src: `{{ outputs .training }}`, want: "[https://x.test/w.tar]"},
		{name: "outputs data uri", src: `{{ outputs "data:text/plain,https://x.test" }}`, want: "[]"},
		{name: "slackEscape", src: `{{ slackEscape .hostile }}`, want: "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt; &amp; co"},
		{name: "slackEscape entity", src: `{{ slackEscape "&amp;" }}`, want: "&amp;amp;"},
		{name: "slackRaw", src: `{{ slackRaw "<!here>" }}`, want: "<!here>"},
		{name: "upper lower", src: `{{ upper "straße" }} {{ lower "ÉTÉ" }} {{ upper .nothing }}`, want: "STRAßE été "},
		{name: "time", src: `{{ time "2006-01-02 15:04:05 MST" .t }}`, want: "2025-03-04 04:06:07 UTC"},
		{name: "time zero", src: `{{ time "2006-01-02" .zero }}|{{ time "2006-01-02" .nothing }}`, want: "|"},
		{name: "time text", src: `{{ time "15:04" "2025-01-01T10:30:00+02:00" }}`, want: "08:30"},
		{name: "emoji", src: `{{ emoji "succeeded" }}{{ emoji "failed" }}{{ emoji "canceled" }}{{ emoji "aborted" }}{{ emoji "starting" }}{{ emoji "processing" }}{{ emoji "weird" }}{{ emoji .nothing }}`, want: "✅❌🚫⏹️⏳⚙️🔔🔔"},
		{name: "title", src: `{{ title "succeeded" }} {{ title "état" }} {{ title "" }} {{ title .invalid }}`, want: "Succeeded État  Ab\xffcd\xfe"},
		{name: "get", src: `{{ get .training "version" }}|{{ get .nested "images" 0 }}|{{ get .nested "images" 9 }}|{{ get "text" "version" }}|{{ get .nothing "x" }}`, want: "acme/m:1|https://x.test/a.png|||"},
		{name: "get string map", src: `{{ get .ev.Query "customId" }}`, want: "batch-7"},
		{name: "dict", src: `{{ json (dict "a" 1 "b" .nothing) }}`, want: `{"a":1,"b":null}`},
		{name: "first", src: `{{ first 2 .strs }}|{{ first 9 .strs }}|{{ first 2 .nothing }}`, want: "[a b]|[a b c]|[]"},
		{name: "sub", src: `{{ sub 5 3 }}`, want: "2"},
		{name: "link", src: `{{ link "https://x.test/a?b=c&d=e" }}|{{ link "javascript:alert(1)" }}|{{ link "https://x.test/a b" }}|{{ link "https://x.test/a>b" }}|{{ link "/rel" }}`, want: "https://x.test/a?b=c&d=e||||"},
		{name: "base", src: `{{ base "https://x.test/a/out.png?sig=1" }}|{{ base "https://x.test/" }}|{{ base "plain" }}`, want: "out.png|x.test|plain"},
		{name: "slackTruncate fits", src: `{{ slackTruncate 7 "a&b" }}|{{ slackTruncate 5 "héllo" }}`, want: "a&b|héllo"},
		{name: "slackTruncate entity counts", src: `{{ slackTruncate 6 "a&b" }}|{{ slackTruncate 3 "héllo" }}|{{ slackTruncate 0 "x" }}`, want: "a…|hé…|"},
		{name: "slackTruncate invalid utf8", src: `{{ slackTruncate 4 .invalid }}`, want: "ab\uFFFD…"},
		{name: "slackTruncateLeft", src: `{{ slackTruncateLeft 4 "abcdef" }}|{{ slackTruncateLeft 6 "x<y" }}|{{ slackTruncateLeft 5 "x<y" }}|{{ slackTruncateLeft 0 "x" }}`, want: "…def|x<y|…y|"},
		{name: "slackLen", src: `{{ slackLen "<a>&" }}|{{ slackLen .nothing }}|{{ slackLen "a\nb" }}`, want: "14|0|3"},
		{name: "jsonString", src: `{{ jsonString .crlf }}|{{ jsonString .invalid }}|{{ jsonString "q\"b\\s\x01\u2028<&>" }}`, want: `a\r\nb\rc\nd\n|ab` + "\uFFFD" + `cd` + "\uFFFD" + `|q\"b\\s\u0001\u2028<&>`},
		{name: "firstLine", src: `{{ firstLine "\n  \r\n  x y  \nz" }}|{{ firstLine " \n\t" }}|{{ firstLine .nothing }}|{{ firstLine "one" }}`, want: "x y|||one"},
		{name: "image", src: `{{ image .nested }}|{{ image "https://x.test/a.webp" }}`, want: "http://x.test/deep.png|"},
		{name: "str nil", src: `{{ str .nothing }}|{{ str 1.5 }}`, want: "|1.5"},
		{name: "missing input key", src: `[{{ .ev.Input.missing }}][{{ .ev.Input.null }}][{{ .ev.Query.missing }}][{{ .missing }}]`, want: "[][][][]"},
	}
}

// TestFuncErrors checks that misuse is an execution error, not a panic.
func TestFuncErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		data any
		want string
	}{
		{name: "dict odd", src: `{{ dict "a" }}`, want: "odd number of arguments"},
		{name: "dict key", src: `{{ dict 1 2 }}`, want: "not a string"},
		{name: "json NaN", src: `{{ json . }}`, data: math.NaN(), want: "unsupported value"},
		{name: "nested nil field", src: `{{ .a.b.c }}`, data: map[string]any{"a": nil}, want: "nil pointer"},
	}
	set := newSet(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := execute(t, set, tc.src, None, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Execute(%q) = %q, %v, want an error containing %q", tc.src, got, err, tc.want)
			}
		})
	}
}

// TestTailHuge reads the last lines of a large log with few and with many
// line breaks.
func TestTailHuge(t *testing.T) {
	many := strings.Repeat("progress 50%\r", 1<<20) + "line a\nline b\n"
	long := strings.Repeat("x", 8<<20) + "\nend"
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "many breaks", in: many, n: 3, want: "progress 50%\nline a\nline b"},
		{name: "one long line", in: long, n: 1, want: "end"},
		{name: "long line kept", in: long, n: 2, want: strings.Repeat("x", 8<<20) + "\nend"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tail(tc.n, tc.in); got != tc.want {
				t.Errorf("tail(%d, %d bytes) = %.40q (%d bytes), want %.40q", tc.n, len(tc.in), got, len(got), tc.want)
			}
		})
	}
}

// TestTruncateValidUTF8 checks that truncate never returns invalid UTF-8 or
// more runes than asked for.
func TestTruncateValidUTF8(t *testing.T) {
	inputs := []string{"", "a", "\xff\xfe\xfd", "héllo\xc3", "日本語テキスト", strings.Repeat("é", 100)}
	for _, in := range inputs {
		for n := 0; n < 8; n++ {
			got := truncate(n, in)
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > n {
				t.Errorf("truncate(%d, %q) = %q, want valid UTF-8 of at most %d runes", n, in, got, n)
			}
		}
	}
}

// TestSlackTruncateFits checks that slackTruncate and slackTruncateLeft
// give text whose Slack-escaped form, in or out of a code block, is at most
// n runes and valid UTF-8.
func TestSlackTruncateFits(t *testing.T) {
	inputs := []string{"", "a", "&&&&&", "<<>>&&", "a\r\nb\x00c\u202Ed", "\xff\xfe<", "日本語&テキスト", strings.Repeat("é&", 50)}
	for _, in := range inputs {
		for n := 0; n < 14; n++ {
			for name, cut := range map[string]func(int, any) string{"slackTruncate": slackTruncate, "slackTruncateLeft": slackTruncateLeft} {
				got := cut(n, in)
				for _, block := range []bool{false, true} {
					if esc := escapeSlack(got, block); !utf8.ValidString(esc) || utf8.RuneCountInString(esc) > n {
						t.Errorf("%s(%d, %q) = %q, escaped (block %v) %q, want valid UTF-8 of at most %d runes", name, n, in, got, block, esc, n)
					}
				}
			}
		}
	}
}

// TestFuncNames checks that the documented functions exist.
func TestFuncNames(t *testing.T) {
	want := []string{"base", "default", "dict", "digestPayload", "duration", "emoji", "first", "firstLine", "get", "image",
		"join", "json", "jsonString", "link", "lower", "models", "outputs", "payload", "slackBlock", "slackEscape", "slackLen",
		"slackRaw", "slackTruncate", "slackTruncateLeft", "statusCounts", "str", "sub", "tail", "time", "title", "truncate", "upper"}
	var got []string
	for name := range Funcs() {
		got = append(got, name)
	}
	if diff := cmp.Diff(want, got, cmpSortStrings()); diff != "" {
		t.Errorf("Funcs() names mismatch (-want +got):\n%s", diff)
	}
}
