// Command loadgen sends unique, signed Replicate webhooks to hooknote (or to
// bench/baseline) and reports throughput, latency, errors and, given the
// server's pid, its CPU time per request and its memory.
//
// Closed loop (-c connections, each sending as soon as it is answered) is
// the default; -rate R sends R requests per second whatever the answers and
// measures each latency from its scheduled send time. The load lasts -d, or
// until -n requests were sent. With -sink host:port it also serves the
// endpoint hooknote's webhook notifier delivers to, matches each delivery to
// the acknowledgement of its event id, and reports ack→delivery latency,
// missing deliveries, the backlog at the end of the load and the sustained
// rate: min(acks/s, deliveries/s), deliveries counted from the start of the
// load to the end of the load plus -wait.
//
// With -sink-only host:port it sends nothing: it only serves the sink,
// counts deliveries (per second, and duplicates) and stops after -idle
// without a delivery (once one has arrived), after -d, or on SIGINT/SIGTERM.
// This counts the deliveries of a backlog queued by an earlier run.
// -sink-hang makes the sink (of -sink or -sink-only) accept each
// connection, read the request and never answer: hooknote's sends wait for
// their timeout, so its queue grows without retries churning.
//
//	loadgen -secret whsec_… -c 32 -d 10s -pid $(pgrep -n hooknote)
//	loadgen -secret whsec_… -rate 500 -d 10s -sink 127.0.0.1:19189
//	loadgen -secret whsec_… -c 32 -d 1h -n 100000   # 100000 webhooks
//	loadgen -sink-only 127.0.0.1:19189 -sink-hang -d 24h
//	loadgen -sink-only 127.0.0.1:19189 -idle 5s -d 1h
//
// Flags:
//
//	-url U          webhook URL, also the body's "webhook" field
//	-secret S       whsec_… signing secret (required, except with -sink-only)
//	-c N            connections (closed loop; default 32)
//	-rate R         open loop at R requests per second (0, the default: closed loop)
//	-d D            duration of the load (default 10s); with -sink-only, the longest it serves
//	-n N            stop after N requests were sent (0, the default: no limit; -d still bounds)
//	-size B         body size in bytes (default 1900)
//	-sink A         serve the sink on host:port during the load and report deliveries
//	-wait D         with -sink: how long to wait after the load for deliveries still due (default 5s)
//	-sink-only A    serve only the sink on host:port, send nothing, count deliveries
//	-idle D         with -sink-only: stop after D without a delivery, once one arrived (default 5s)
//	-sink-hang      the sink accepts connections and never answers
//	-pid P          server pid: its CPU time per request and memory (from /proc)
//	-timeout D      per-request timeout (default 30s)
//	-label L        label printed in the RESULT line
//
// Every run ends with one RESULT line of key=value pairs for scripts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	url, secret, sink, label string
	sinkOnly                 string
	sinkHang                 bool
	conns, size, pid, n      int
	dur, wait, timeout, idle time.Duration
	rate                     float64
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fl := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.url, "url", "http://127.0.0.1:19187/webhooks/replicate?customId=bench", "webhook URL (also the body's \"webhook\" field)")
	fl.StringVar(&o.secret, "secret", "", "whsec_… signing secret (required, except with -sink-only)")
	fl.IntVar(&o.conns, "c", 32, "connections (closed loop)")
	fl.DurationVar(&o.dur, "d", 10*time.Second, "duration of the load (with -sink-only: the longest it serves)")
	fl.IntVar(&o.n, "n", 0, "stop after this many requests were sent (0: no limit; -d still bounds the load)")
	fl.Float64Var(&o.rate, "rate", 0, "requests per second: open loop at this fixed rate (0: closed loop)")
	fl.IntVar(&o.size, "size", 1900, "body size in bytes (a succeeded prediction, padded with logs)")
	fl.StringVar(&o.sink, "sink", "", "host:port: serve the sink hooknote's webhook notifier delivers to, and report deliveries")
	fl.DurationVar(&o.wait, "wait", 5*time.Second, "with -sink: how long to wait after the load for deliveries still due")
	fl.StringVar(&o.sinkOnly, "sink-only", "", "host:port: send nothing; serve only the sink and count deliveries (of a backlog queued earlier)")
	fl.DurationVar(&o.idle, "idle", 5*time.Second, "with -sink-only: stop after this long without a delivery, once one has arrived")
	fl.BoolVar(&o.sinkHang, "sink-hang", false, "the sink (-sink or -sink-only) accepts connections, reads each request and never answers")
	fl.IntVar(&o.pid, "pid", 0, "server pid: report its CPU time per request and memory (from /proc)")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fl.StringVar(&o.label, "label", "", "label printed in the RESULT line")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	if fl.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if o.sinkOnly != "" {
		switch {
		case o.sink != "":
			return o, errors.New("-sink-only and -sink exclude each other")
		case o.idle <= 0:
			return o, errors.New("-idle must be positive")
		case o.dur <= 0:
			return o, errors.New("-d must be positive")
		}
		return o, nil
	}
	switch {
	case o.sinkHang && o.sink == "":
		return o, errors.New("-sink-hang needs -sink or -sink-only")
	case o.n < 0:
		return o, errors.New("-n must not be negative")
	case o.secret == "":
		return o, errors.New("-secret is required")
	case o.conns < 1 && o.rate == 0:
		return o, errors.New("-c must be at least 1")
	case o.rate < 0:
		return o, errors.New("-rate must not be negative")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.sinkOnly != "" {
		if err := sinkOnly(ctx, o, stdout); err != nil {
			fmt.Fprintf(stderr, "loadgen: sink: %v\n", err)
			return 1
		}
		return 0
	}
	g, err := newGenerator(o.url, o.secret, o.size)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	t := newTracker()
	acked := func(string) {}
	if o.sink != "" {
		closeSink, err := serveSink(o.sink, sinkHandler(t, o.sinkHang))
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: sink: %v\n", err)
			return 1
		}
		defer closeSink()
		acked = t.ack
	}
	res, err := measure(ctx, o, g, t, acked)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	res.print(stdout)
	return 0
}

// result is everything a run reports.
type result struct {
	o                     options
	bodyLen               int
	out                   *outcome
	before, after, landed procSample // server: before, after the load, after the deliveries
	haveProc              bool
	selfCPU               time.Duration
	sysBusy               time.Duration // every process, during the load
	dlv                   *deliveryReport
}

func measure(ctx context.Context, o options, g *generator, t *tracker, acked func(string)) (*result, error) {
	r := &result{o: o, bodyLen: g.bodyLen}
	var ok1, ok2 bool
	r.before, ok1 = sampleProc(o.pid)
	cpu0, sys0 := selfCPU(), systemBusy()
	var err error
	if o.rate > 0 {
		r.out, err = openLoop(ctx, g, o.rate, o.dur, o.n, o.timeout, acked)
	} else {
		r.out, err = closedLoop(ctx, g, o.conns, o.dur, o.n, o.timeout, acked)
	}
	if err != nil {
		return nil, err
	}
	r.selfCPU, r.sysBusy = selfCPU()-cpu0, systemBusy()-sys0
	r.after, ok2 = sampleProc(o.pid)
	r.haveProc = ok1 && ok2
	if o.sink != "" {
		t.waitDelivered(o.wait)
		r.landed, _ = sampleProc(o.pid)
		d := t.report(r.out.start, r.out.end, o.wait)
		r.dlv = &d
	}
	return r, nil
}
