package slack

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxTextRunes is the longest text sent to Slack, marker included.
	maxTextRunes = 4000
	// truncatedMarker ends a text that was cut.
	truncatedMarker = "\n…truncated"
	// fenceClose closes a code block left open by a cut.
	fenceClose = "\n```"
	// emptyText replaces a text that is empty or blank, which Slack rejects.
	emptyText = "(empty message)"
	// maxEntity bounds the look-back for an &entity; cut in half.
	maxEntity = 10
	// maxLink bounds the look-back for a <link|label> cut in half.
	maxLink = 500
)

// truncate returns s if it is at most limit runes long; otherwise it cuts s
// and appends truncatedMarker so that the result is at most limit runes. The
// cut never splits an &entity;, a <link|label> or a run of backticks, and a
// ``` code block the cut leaves open is closed before the marker. A blank s
// becomes emptyText.
func truncate(s string, limit int) string {
	if strings.TrimSpace(s) == "" {
		return emptyText
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	markerLen := utf8.RuneCountInString(truncatedMarker)
	cut := safeCut(r, limit-markerLen)
	kept := string(r[:cut])
	if strings.Count(kept, "```")%2 == 1 {
		cut = safeCut(r, cut-utf8.RuneCountInString(fenceClose))
		kept = string(r[:cut])
		if strings.Count(kept, "```")%2 == 1 {
			kept += fenceClose
		}
	}
	return kept + truncatedMarker
}

// safeCut moves cut back until r[:cut] does not end inside an &entity;, a
// <link|label> or a run of backticks, and does not end in white space.
func safeCut(r []rune, cut int) int {
	cut = max(cut, 0)
	for {
		next := backOffBackticks(r, cut)
		next = backOffOpen(r, next, '&', ';', maxEntity)
		next = backOffOpen(r, next, '<', '>', maxLink)
		for next > 0 && unicode.IsSpace(r[next-1]) {
			next--
		}
		if next == cut {
			return cut
		}
		cut = next
	}
}

// backOffBackticks moves cut to the start of a run of backticks it splits.
func backOffBackticks(r []rune, cut int) int {
	if cut >= len(r) || r[cut] != '`' {
		return cut
	}
	for cut > 0 && r[cut-1] == '`' {
		cut--
	}
	return cut
}

// backOffOpen moves cut to just before the last open rune in the window
// r[cut-window:cut] that is not closed by a close rune before cut.
func backOffOpen(r []rune, cut int, open, close rune, window int) int {
	for i := cut - 1; i >= 0 && i >= cut-window; i-- {
		switch r[i] {
		case close:
			return cut
		case open:
			return i
		}
	}
	return cut
}
