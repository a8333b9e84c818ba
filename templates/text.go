package templates

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ellipsis marks text that truncate cut.
const ellipsis = "…"

// truncate returns s cut to at most n runes, the last of which is "…" when
// anything was cut. Invalid UTF-8 becomes U+FFFD first, so the result is
// always valid UTF-8. n <= 0 gives "".
func truncate(n int, v any) string {
	s := strings.ToValidUTF8(str(v), "\uFFFD")
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i] + ellipsis
}

// tail returns the last n lines of s, joined by "\n". Line breaks are "\n",
// "\r\n" or a lone "\r" (progress bars); trailing line breaks are ignored.
// It reads s from the end, so a huge log costs no more than its last lines.
func tail(n int, v any) string {
	s := strings.TrimRight(str(v), "\r\n")
	if n <= 0 || s == "" {
		return ""
	}
	i, breaks := len(s), 0
	for i > 0 {
		c := s[i-1]
		if c != '\n' && c != '\r' {
			i--
			continue
		}
		breaks++
		if breaks == n {
			break
		}
		i--
		if c == '\n' && i > 0 && s[i-1] == '\r' {
			i--
		}
	}
	out := strings.ReplaceAll(s[i:], "\r\n", "\n")
	return strings.ReplaceAll(out, "\r", "\n")
}

// slackEscape prints v for Slack mrkdwn outside a code block: &, < and >
// become entities, so that it cannot mention (<!channel>, <@U…>) or link
// (<url|text>); every run of line breaks and other control characters
// becomes one space, so that it cannot start a line of its own (a fake
// status); a backtick becomes ˋ (U+02CB), so that it cannot open or close a
// code span; and bidi controls are dropped, so that it cannot reorder what
// is shown around it.
func slackEscape(v any) string { return escapeSlack(str(v), false) }

// slackBlock prints v for Slack mrkdwn inside a ``` code block: as
// slackEscape, but line breaks are kept (logs, errors), as \n.
func slackBlock(v any) string { return escapeSlack(str(v), true) }

// SlackEscape is slackEscape for text built without a template: one value
// printed in a line of a Slack message.
func SlackEscape(s string) string { return escapeSlack(s, false) }

// escapeSlack escapes s for Slack mrkdwn, keeping line breaks (as \n) only
// in a code block.
func escapeSlack(s string, block bool) string {
	if !strings.ContainsFunc(s, needsSlackEscape) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	space := false        // a run of breaks or controls outside a block, pending as one space
	for i, r := range s { // an invalid byte is utf8.RuneError: written as U+FFFD
		switch {
		case block && (r == '\n' || r == '\u2028' || r == '\u2029'):
			b.WriteByte('\n')
			continue
		case block && r == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue // \r\n: the \n writes the break
			}
			b.WriteByte('\n')
			continue
		case block && r == '\t':
			b.WriteByte('\t')
			continue
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			space = !block
			continue
		case isBidiControl(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '`':
			b.WriteRune('\u02CB')
		default:
			b.WriteRune(r)
		}
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// needsSlackEscape reports whether r is changed by escapeSlack in some
// context.
func needsSlackEscape(r rune) bool {
	switch r {
	case '&', '<', '>', '`', '\u2028', '\u2029', utf8.RuneError:
		return true
	}
	return unicode.IsControl(r) || isBidiControl(r)
}

// isBidiControl reports whether r is an explicit bidirectional formatting
// character (marks, embeddings, overrides, isolates), which could make text
// read in another order than it was written.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// oneLine replaces every run of control characters (CR, LF, tab, …) and line
// or paragraph separators in s by one space, and trims spaces at both ends.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			pending = true
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// OneLine replaces every run of control characters (CR, LF, tab, …) and
// line or paragraph separators in s by one space and trims the ends: what
// the Line escape does to a whole rendering, for text built without a
// template (fallback subjects).
func OneLine(s string) string { return oneLine(s) }

// slackTruncate returns v cut so that, once Slack-escaped (by slackEscape or
// slackBlock), it is at most n runes long, the last of which is "…" when
// anything was cut; n <= 0 gives "". The result is not escaped itself: the
// escape mode escapes it when it is printed. It is for the places where
// Slack counts characters (a header's 150, a section's 3,000), which &, <
// and > grow into entities; invalid UTF-8 becomes U+FFFD first.
func slackTruncate(n int, v any) string {
	s := strings.ToValidUTF8(str(v), "\uFFFD")
	if n <= 0 {
		return ""
	}
	if slackWidth(s) <= n {
		return s
	}
	w := 0
	for i, r := range s {
		if w+escapedWidth(r) > n-1 {
			return s[:i] + ellipsis
		}
		w += escapedWidth(r)
	}
	return s
}

// slackTruncateLeft is slackTruncate keeping the end of v instead of its
// start ("…" first): the last lines of a log.
func slackTruncateLeft(n int, v any) string {
	s := strings.ToValidUTF8(str(v), "\uFFFD")
	if n <= 0 {
		return ""
	}
	if slackWidth(s) <= n {
		return s
	}
	w := 0
	for i := len(s); i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if w+escapedWidth(r) > n-1 {
			return ellipsis + s[i:]
		}
		w += escapedWidth(r)
		i -= size
	}
	return s
}

// slackWidth is at least the length in runes of s once Slack-escaped, in
// or out of a code block.
func slackWidth(s string) int {
	w := 0
	for _, r := range s {
		w += escapedWidth(r)
	}
	return w
}

// escapedWidth is at least the number of runes escapeSlack writes for r:
// an entity for &, < and >, at most one for anything else.
func escapedWidth(r rune) int {
	switch r {
	case '&':
		return len("&amp;")
	case '<', '>':
		return len("&lt;")
	}
	return 1
}

// slackLen returns the length in runes of v as slackEscape prints it.
func slackLen(v any) int {
	return utf8.RuneCountInString(escapeSlack(str(v), false))
}

// firstLine returns the first line of v that is not blank, trimmed; ""
// when there is none. Lines end at "\n" or "\r".
func firstLine(v any) string {
	s := str(v)
	for s != "" {
		line := s
		if i := strings.IndexAny(s, "\r\n"); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

// jsonString returns v printed as the contents of a JSON string, without
// the quotes: " and \ escaped, control characters as \n, \r, \t or \u00XX,
// U+2028 and U+2029 as \u2028 and \u2029, and invalid UTF-8 as U+FFFD. Blocks
// mode ends every printed value with it.
func jsonString(v any) string {
	s := str(v)
	if !strings.ContainsFunc(s, needsJSONEscape) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s { // an invalid byte is utf8.RuneError: written as U+FFFD
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == '\u2028' || r == '\u2029' {
				fmt.Fprintf(&b, `\u%04x`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// needsJSONEscape reports whether jsonString changes r.
func needsJSONEscape(r rune) bool {
	return r < 0x20 || r == '"' || r == '\\' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}
