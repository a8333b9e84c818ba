package templates

import (
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

// slackEscape prints v with &, < and > escaped for Slack mrkdwn, so that it
// cannot mention (<!channel>, <@U…>) or link (<url|text>).
func slackEscape(v any) string {
	return slackEscaper.Replace(str(v))
}

// SlackEscape escapes &, < and > for Slack mrkdwn: what every value a
// Slack-mode template prints goes through, for text built without one.
func SlackEscape(s string) string { return slackEscaper.Replace(s) }

// slackEscaper is immutable and safe for concurrent use.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

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
