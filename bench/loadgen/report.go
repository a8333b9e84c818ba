package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

func (r *result) print(w io.Writer) {
	o, out := r.o, r.out
	wall := out.end.Sub(out.start)
	n := out.requests()
	rps := float64(n) / wall.Seconds()
	mode := fmt.Sprintf("closed loop, %d connections", o.conns)
	if o.rate > 0 {
		mode = fmt.Sprintf("open loop at %g req/s (latency from the scheduled send time)", o.rate)
	}
	limit := o.dur.String()
	if o.n > 0 {
		limit = fmt.Sprintf("%d requests (at most %s)", o.n, o.dur)
	}
	fmt.Fprintf(w, "loadgen: %s, %s, %d-byte bodies, POST %s\n", mode, limit, r.bodyLen, o.url)
	non200 := n - out.codes[200]
	fmt.Fprintf(w, "requests   %d answered in %.2fs = %.1f req/s; transport errors %d; non-200 %d %s\n",
		n, wall.Seconds(), rps, out.errors, non200, codeList(out.codes))
	p := percentiles(out.latencies, 0.5, 0.9, 0.99, 1)
	fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  max %s\n", ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]))
	kv := []string{
		"label=" + orDash(o.label), fmt.Sprintf("reqs=%d", n), fmt.Sprintf("rps=%.1f", rps),
		fmt.Sprintf("p50_us=%d", p[0].Microseconds()), fmt.Sprintf("p90_us=%d", p[1].Microseconds()),
		fmt.Sprintf("p99_us=%d", p[2].Microseconds()), fmt.Sprintf("max_us=%d", p[3].Microseconds()),
		fmt.Sprintf("errors=%d", out.errors), fmt.Sprintf("non200=%d", non200),
	}
	if r.haveProc && n > 0 {
		cpu := r.after.cpu - r.before.cpu
		perReq := float64(cpu.Microseconds()) / float64(n)
		pct := 100 * cpu.Seconds() / r.after.at.Sub(r.before.at).Seconds()
		fmt.Fprintf(w, "server     pid %d: %.1f µs CPU/request (%.0f%% of one core); RSS at end of load %.1f MB, peak %.1f MB\n",
			o.pid, perReq, pct, mb(r.after.rssKB), mb(r.after.peakKB))
		kv = append(kv, fmt.Sprintf("cpu_us_per_req=%.1f", perReq), fmt.Sprintf("server_cpu_pct=%.0f", pct),
			fmt.Sprintf("rss_kb=%d", r.after.rssKB), fmt.Sprintf("hwm_kb=%d", r.after.peakKB))
	}
	if r.dlv != nil {
		kv = append(kv, r.printDeliveries(w)...)
	}
	self := 100 * r.selfCPU.Seconds() / wall.Seconds()
	fmt.Fprintf(w, "loadgen    CPU %.0f%% of one core during the load (near 100%% on one core: the load generator, not the server, is the limit)\n", self)
	kv = append(kv, fmt.Sprintf("loadgen_cpu_pct=%.0f", self))
	if r.haveProc {
		other := r.sysBusy - r.selfCPU - (r.after.cpu - r.before.cpu)
		pct := 100 * other.Seconds() / wall.Seconds()
		fmt.Fprintf(w, "other      %.0f%% of one core used by other processes and unattributed kernel work during the load (noise if well above ~10%%)\n", pct)
		kv = append(kv, fmt.Sprintf("other_cpu_pct=%.0f", pct))
	}
	fmt.Fprintf(w, "RESULT %s\n", strings.Join(kv, " "))
}

func (r *result) printDeliveries(w io.Writer) []string {
	d, out := r.dlv, r.out
	p := percentiles(d.latencies, 0.5, 0.99, 1)
	drain := time.Duration(0)
	if !d.last.IsZero() && d.last.After(out.end) {
		drain = d.last.Sub(out.end)
	}
	// Deliveries per second: those that landed from the start of the load
	// to the end of the load plus -wait, over the time from the start to the
	// last of them.
	rate := 0.0
	if !d.lastInWindow.IsZero() {
		rate = float64(d.inWindow) / d.lastInWindow.Sub(out.start).Seconds()
	}
	ackRate := float64(d.acked) / out.end.Sub(out.start).Seconds()
	sustained := min(ackRate, rate)
	// Deliveries kept up when every acknowledged webhook was delivered and
	// at most one second of acks was still queued when the load ended.
	backlog := d.acked - d.atEnd
	keptUp := d.missing == 0 && float64(backlog) <= ackRate
	fmt.Fprintf(w, "deliveries acked %d, delivered %d (%.0f/s from the start of the load to the last delivery), missing %d, duplicates %d, unknown ids %d, unreadable %d; last delivery %s after the load ended\n",
		d.acked, d.delivered, rate, d.missing, d.dups, d.unknown, d.bad, ms(drain))
	if drain > 0 {
		fmt.Fprintf(w, "drain      %d delivered after the load ended, %.0f/s with no intake competing\n",
			d.afterLoad, float64(d.afterLoad)/drain.Seconds())
	}
	fmt.Fprintf(w, "sustained  %.0f/s = min(acks %.0f/s, deliveries %.0f/s landed by the end of the load + %s); backlog at the end of the load %d (acked %d − delivered %d), %d delivered after it; kept up: %s\n",
		sustained, ackRate, rate, r.o.wait, backlog, d.acked, d.atEnd, d.afterLoad, yesNo(keptUp))
	fmt.Fprintf(w, "ack→dlv    p50 %s  p99 %s  max %s (%d delivered before the ack reached the load generator, counted as 0)\n",
		ms(p[0]), ms(p[1]), ms(p[2]), d.early)
	kv := []string{
		fmt.Sprintf("acked=%d", d.acked), fmt.Sprintf("delivered=%d", d.delivered), fmt.Sprintf("missing=%d", d.missing),
		fmt.Sprintf("dups=%d", d.dups), fmt.Sprintf("dlv_p50_us=%d", p[0].Microseconds()),
		fmt.Sprintf("dlv_p99_us=%d", p[1].Microseconds()), fmt.Sprintf("dlv_max_us=%d", p[2].Microseconds()),
		fmt.Sprintf("drain_ms=%d", drain.Milliseconds()), fmt.Sprintf("dlv_rps=%.0f", rate),
		fmt.Sprintf("drain_dlv=%d", d.afterLoad), fmt.Sprintf("ack_rps=%.1f", ackRate),
		fmt.Sprintf("dlv_at_end=%d", d.atEnd), fmt.Sprintf("backlog_end=%d", backlog),
		fmt.Sprintf("sustained_rps=%.1f", sustained), fmt.Sprintf("kept_up=%d", b2i(keptUp)),
	}
	if r.haveProc && out.requests() > 0 && r.landed.cpu > 0 {
		all := float64((r.landed.cpu - r.before.cpu).Microseconds()) / float64(out.requests())
		fmt.Fprintf(w, "server     %.1f µs CPU/request including the deliveries after the load\n", all)
		kv = append(kv, fmt.Sprintf("cpu_us_per_req_all=%.1f", all))
	}
	return kv
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func codeList(codes map[int]int) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		parts = append(parts, fmt.Sprintf("%d:%d", c, codes[c]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d.Microseconds())/1000) }

func mb(kb int64) float64 { return float64(kb) / 1024 }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
