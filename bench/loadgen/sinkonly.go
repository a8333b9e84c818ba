package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// sinkOnly serves the sink alone (-sink-only): it sends nothing and counts
// the deliveries of jobs queued before it started (there are no acks to
// match them to). It stops after o.idle without a delivery once one has
// arrived (never with -sink-hang), after o.dur, or when ctx ends (SIGINT,
// SIGTERM), and then prints its report and a RESULT line.
func sinkOnly(ctx context.Context, o options, w io.Writer) error {
	t := newTracker()
	h := sinkHandler(t, o.sinkHang)
	closeSink, err := serveSink(o.sinkOnly, h)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(o.dur)
	why := fmt.Sprintf("-d %s elapsed", o.dur)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			why = "signal"
			break loop
		case now := <-tick.C:
			if now.After(deadline) {
				break loop
			}
			if last := t.lastDelivery(); !o.sinkHang && !last.IsZero() && now.Sub(last) >= o.idle {
				why = fmt.Sprintf("%s without a delivery", o.idle)
				break loop
			}
		}
	}
	end := time.Now()
	closeSink()
	served := end.Sub(start)
	kv := []string{"label=" + orDash(o.label), fmt.Sprintf("served_ms=%d", served.Milliseconds())}
	if hs, ok := h.(*hangSink); ok {
		reqs, most := hs.counts()
		fmt.Fprintf(w, "sink-only  hanging sink on %s for %.1fs (stopped: %s): %d requests received, none answered, at most %d waiting at once\n",
			o.sinkOnly, served.Seconds(), why, reqs, most)
		kv = append(kv, "mode=sink-hang", fmt.Sprintf("hung=%d", reqs), fmt.Sprintf("hung_max=%d", most))
		fmt.Fprintf(w, "RESULT %s\n", strings.Join(kv, " "))
		return nil
	}

	t.mu.Lock()
	delivered, dups, bad := len(t.delivered), t.dups, t.bad
	var first, last time.Time
	perSec := make([]int, int(served/time.Second)+1)
	for _, at := range t.delivered {
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
		if i := int(at.Sub(start) / time.Second); i >= 0 && i < len(perSec) {
			perSec[i]++
		}
	}
	t.mu.Unlock()

	fmt.Fprintf(w, "sink-only  sink on %s for %.1fs (stopped: %s)\n", o.sinkOnly, served.Seconds(), why)
	firstMS, lastMS, rate, spanRate := int64(-1), int64(-1), 0.0, 0.0
	if delivered > 0 {
		firstMS, lastMS = first.Sub(start).Milliseconds(), last.Sub(start).Milliseconds()
		rate = float64(delivered) / last.Sub(start).Seconds()
		if span := last.Sub(first); span > 0 {
			spanRate = float64(delivered) / span.Seconds()
		}
	}
	if delivered > 0 {
		fmt.Fprintf(w, "deliveries %d ids, duplicates %d, unreadable %d; first %s, last %s after the sink started; %.0f/s from the sink's start to the last, %.0f/s from the first to the last\n",
			delivered, dups, bad, ms(first.Sub(start)), ms(last.Sub(start)), rate, spanRate)
	} else {
		fmt.Fprintf(w, "deliveries none (unreadable %d)\n", bad)
	}
	secs := make([]string, len(perSec))
	for i, n := range perSec {
		secs[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(w, "per second %s\n", strings.Join(secs, " "))
	kv = append(kv, "mode=sink", fmt.Sprintf("delivered=%d", delivered), fmt.Sprintf("dups=%d", dups), fmt.Sprintf("bad=%d", bad),
		fmt.Sprintf("first_ms=%d", firstMS), fmt.Sprintf("last_ms=%d", lastMS),
		fmt.Sprintf("rps=%.0f", rate), fmt.Sprintf("span_rps=%.0f", spanRate))
	fmt.Fprintf(w, "RESULT %s\n", strings.Join(kv, " "))
	return nil
}
