package slack

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	const limit = 30 // the marker takes 11 of them
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "short", in: "hello", want: "hello"},
		{name: "empty", in: "", want: "(empty message)"},
		{name: "blank", in: " \n\t", want: "(empty message)"},
		{name: "exactly the limit", in: strings.Repeat("a", 30), want: strings.Repeat("a", 30)},
		{name: "one over", in: strings.Repeat("a", 31), want: strings.Repeat("a", 19) + "\n…truncated"},
		{name: "runes not bytes", in: strings.Repeat("é", 31), want: strings.Repeat("é", 19) + "\n…truncated"},
		{name: "runes within the limit", in: strings.Repeat("é", 30), want: strings.Repeat("é", 30)},
		{name: "trailing space dropped", in: strings.Repeat("a", 17) + "   " + strings.Repeat("b", 20), want: strings.Repeat("a", 17) + "\n…truncated"},
		{name: "inside an entity", in: strings.Repeat("a", 17) + "x&amp;" + strings.Repeat("b", 20), want: strings.Repeat("a", 17) + "x\n…truncated"},
		{name: "after an entity", in: strings.Repeat("a", 13) + "&amp;b" + strings.Repeat("c", 20), want: strings.Repeat("a", 13) + "&amp;b\n…truncated"},
		{name: "inside a link", in: "see <https://example.com/p/abc|open> now", want: "see\n…truncated"},
		{name: "after a link", in: "<https://x.io|x> " + strings.Repeat("b", 20), want: "<https://x.io|x> bb\n…truncated"},
		{name: "inside a backtick run", in: strings.Repeat("a", 18) + "``` " + strings.Repeat("b", 20), want: strings.Repeat("a", 18) + "\n…truncated"},
		{name: "open code block closed", in: "```\n" + strings.Repeat("c", 40), want: "```\n" + strings.Repeat("c", 11) + "\n```\n…truncated"},
		{name: "closed code block left alone", in: "```x```" + strings.Repeat("c", 40), want: "```x```" + strings.Repeat("c", 12) + "\n…truncated"},
		{name: "fence run at the cut", in: "```a```" + strings.Repeat("b", 10) + "```" + strings.Repeat("c", 20), want: "```a```" + strings.Repeat("b", 10) + "\n…truncated"},
		{name: "fence dropped by the reserve", in: "```a```" + strings.Repeat("b", 9) + "```" + strings.Repeat("c", 20), want: "```a```" + strings.Repeat("b", 8) + "\n…truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.in, limit)
			if got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, limit, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > limit {
				t.Errorf("truncate(%q, %d) is %d runes long, want at most %d", tt.in, limit, n, limit)
			}
		})
	}
}

func TestTruncateSlackLimit(t *testing.T) {
	logs := "```\n" + strings.Repeat("step 1/100 &lt;ok&gt; loss=0.25 ✓\n", 300) + "```"
	got := truncate("*Training failed*\n"+logs, maxTextRunes)
	if n := utf8.RuneCountInString(got); n > maxTextRunes {
		t.Errorf("truncate(logs) is %d runes long, want at most %d", n, maxTextRunes)
	}
	if !strings.HasSuffix(got, "```\n…truncated") {
		t.Errorf("truncate(logs) ends %q, want a closed code block and the marker", got[len(got)-40:])
	}
}

// checkTruncated checks the promises of truncate for any input.
func checkTruncated(t *testing.T, in string, limit int) {
	got := truncate(in, limit)
	if n := utf8.RuneCountInString(got); n > limit {
		t.Fatalf("truncate(%q, %d) is %d runes long", in, limit, n)
	}
	if strings.TrimSpace(in) == "" {
		if got != emptyText {
			t.Fatalf("truncate(%q, %d) = %q, want %q", in, limit, got, emptyText)
		}
		return
	}
	if utf8.RuneCountInString(in) <= limit {
		if got != in {
			t.Fatalf("truncate(%q, %d) = %q, want it unchanged", in, limit, got)
		}
		return
	}
	kept, ok := strings.CutSuffix(got, truncatedMarker)
	if !ok {
		t.Fatalf("truncate(%q, %d) = %q, want the marker at the end", in, limit, got)
	}
	if strings.Count(kept, "```")%2 != 0 {
		t.Fatalf("truncate(%q, %d) = %q leaves a code block open", in, limit, got)
	}
	if utf8.ValidString(in) && !strings.HasPrefix(in, strings.TrimSuffix(kept, fenceClose)) {
		t.Fatalf("truncate(%q, %d) = %q, want a prefix of the input", in, limit, got)
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("```\ncode &amp; <https://x|y>\n```", uint16(4))
	f.Add(strings.Repeat("é&lt;", 50), uint16(24))
	f.Add("", uint16(0))
	f.Fuzz(func(t *testing.T, in string, limit uint16) {
		checkTruncated(t, in, 16+int(limit%4000))
	})
}
