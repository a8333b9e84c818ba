package relay

import (
	"testing"
	"time"
)

// TestProcessClock: the clock moves with monotonic time and ignores what
// the wall clock does meanwhile (it cannot be stepped here; the reading
// must at least carry a monotonic component and move forward).
func TestProcessClock(t *testing.T) {
	now := processClock()
	a := now()
	if a.String() == a.Round(0).String() {
		t.Errorf("processClock() = %v, want a reading with a monotonic clock (m=…)", a)
	}
	time.Sleep(2 * time.Millisecond)
	if b := now(); !b.After(a) || b.Sub(a) < 2*time.Millisecond {
		t.Errorf("processClock() went from %v to %v, want forward by ≥ 2ms", a, b)
	}
}
