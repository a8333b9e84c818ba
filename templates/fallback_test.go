package templates

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/replicate"
)

// TestFallbackDigest: the built-in digest counts problems first, lists at
// most 20 events, and keeps the payload's values on their line — escaped
// for Slack, so a model name cannot mention anyone or add a line.
func TestFallbackDigest(t *testing.T) {
	var events []*replicate.Event
	for i := range 25 {
		status := replicate.Succeeded
		if i%5 == 0 {
			status = replicate.Failed
		}
		events = append(events, &replicate.Event{ID: fmt.Sprintf("p%02d", i), Status: status, Model: "acme/x\n<!channel>"})
	}
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	d := NewDigest("batch", "slack", nil, at, at.Add(time.Minute), events)
	if got, want := FallbackDigestSubject(d), "[hooknote] digest of rule batch: 25 events (5 failed, 20 succeeded)"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	text := FallbackDigestText(d, true)
	lines := strings.Split(text, "\n")
	if len(lines) != 1+20+1+1 || lines[21] != "…and 5 more" {
		t.Errorf("%d lines, want the header, 20 events, \"…and 5 more\" and the note:\n%s", len(lines), text)
	}
	if strings.Contains(text, "<!channel>") {
		t.Errorf("a model name mentions the channel:\n%s", text)
	}
}
