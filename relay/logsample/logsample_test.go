package logsample

import (
	"testing"
	"time"
)

// TestWindow: the first 100 webhooks of a second get a line
// each; the rest are counted, and summed up when the next second begins.
func TestWindow(t *testing.T) {
	var l Window
	t0 := time.Unix(1000, 0)
	lines := 0
	for i := range 250 {
		result := "accepted"
		if i%2 == 1 {
			result = "bad_signature"
		}
		ok, summary := l.Admit(t0.Add(time.Duration(i)*time.Millisecond), result)
		if summary != "" {
			t.Fatalf("summary %q within the first second", summary)
		}
		if ok {
			lines++
		}
	}
	if lines != PerSecond {
		t.Errorf("%d lines in a second of 250 webhooks, want %d", lines, PerSecond)
	}
	ok, summary := l.Admit(t0.Add(time.Second), "accepted")
	if !ok || summary != "accepted=75 bad_signature=75" {
		t.Errorf("next second: Admit = %v, summary %q, want a line and \"accepted=75 bad_signature=75\"", ok, summary)
	}
}
