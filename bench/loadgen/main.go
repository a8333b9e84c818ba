// Command loadgen sends unique, signed Replicate webhooks to hooknote (or to
// bench/baseline) and reports throughput, latency, errors and, given the
// server's pid, its CPU time per request and its memory.
//
// Closed loop (-c connections, each sending as soon as it is answered) is
// the default; -rate R sends R requests per second whatever the answers and
// measures each latency from its scheduled send time. With -sink host:port
// it also serves the endpoint hooknote's webhook notifier delivers to,
// matches each delivery to the acknowledgement of its event id, and reports
// ack→delivery latency and missing deliveries.
//
//	loadgen -secret whsec_… -c 32 -d 10s -pid $(pgrep -n hooknote)
//	loadgen -secret whsec_… -rate 500 -d 10s -sink 127.0.0.1:19189
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
	"time"
)

type options struct {
	url, secret, sink, label string
	conns, size, pid         int
	dur, wait, timeout       time.Duration
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
	fl.StringVar(&o.secret, "secret", "", "whsec_… signing secret (required)")
	fl.IntVar(&o.conns, "c", 32, "connections (closed loop)")
	fl.DurationVar(&o.dur, "d", 10*time.Second, "duration of the load")
	fl.Float64Var(&o.rate, "rate", 0, "requests per second: open loop at this fixed rate (0: closed loop)")
	fl.IntVar(&o.size, "size", 1900, "body size in bytes (a succeeded prediction, padded with logs)")
	fl.StringVar(&o.sink, "sink", "", "host:port: serve the sink hooknote's webhook notifier delivers to, and report deliveries")
	fl.DurationVar(&o.wait, "wait", 5*time.Second, "with -sink: how long to wait after the load for deliveries still due")
	fl.IntVar(&o.pid, "pid", 0, "server pid: report its CPU time per request and memory (from /proc)")
	fl.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fl.StringVar(&o.label, "label", "", "label printed in the RESULT line")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	switch {
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
	g, err := newGenerator(o.url, o.secret, o.size)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	t := newTracker()
	acked := func(string) {}
	if o.sink != "" {
		closeSink, err := serveSink(o.sink, t)
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
		r.out, err = openLoop(ctx, g, o.rate, o.dur, o.timeout, acked)
	} else {
		r.out, err = closedLoop(ctx, g, o.conns, o.dur, o.timeout, acked)
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
		d := t.report(r.out.end)
		r.dlv = &d
	}
	return r, nil
}
