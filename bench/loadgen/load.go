package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is what a load phase observed.
type outcome struct {
	start, end time.Time
	latencies  []time.Duration // of every answered request
	errors     int             // transport errors (no answer)
	codes      map[int]int     // answers by status code
}

func (o *outcome) merge(p *outcome) {
	o.latencies = append(o.latencies, p.latencies...)
	o.errors += p.errors
	for c, n := range p.codes {
		o.codes[c] += n
	}
}

// requests is the number of answered requests.
func (o *outcome) requests() int { return len(o.latencies) }

func newOutcome() *outcome { return &outcome{codes: map[int]int{}} }

// newClient returns an HTTP/1.1 client keeping up to conns connections
// (0: no limit).
func newClient(conns int, timeout time.Duration) *http.Client {
	idle := conns
	if idle == 0 {
		idle = 1024
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxConnsPerHost:     conns,
			MaxIdleConnsPerHost: idle,
			MaxIdleConns:        idle,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// send makes one request and records its latency from since; ok reports a
// 200 answer.
func send(c *http.Client, req *http.Request, since time.Time, o *outcome) (ok bool) {
	resp, err := c.Do(req)
	if err != nil {
		o.errors++
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.latencies = append(o.latencies, time.Since(since))
	o.codes[resp.StatusCode]++
	return resp.StatusCode == http.StatusOK
}

// closedLoop runs conns workers, each sending its next request as soon as
// the previous one is answered, for d or until n requests were sent (n > 0).
// acked is called with the event id of every 200 answer.
func closedLoop(ctx context.Context, g *generator, conns int, d time.Duration, n int, timeout time.Duration, acked func(string)) (*outcome, error) {
	c := newClient(conns, timeout)
	defer c.CloseIdleConnections()
	total := newOutcome()
	var mu sync.Mutex
	var firstErr error
	var sent atomic.Int64 // requests started, against n
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	total.start = time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			o := newOutcome()
			o.latencies = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				if n > 0 && sent.Add(1) > int64(n) {
					break
				}
				id, req, err := g.request()
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				if send(c, req, time.Now(), o) {
					acked(id)
				}
			}
			mu.Lock()
			total.merge(o)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.end = time.Now()
	return total, firstErr
}

// openLoop sends rate requests per second for d (at most n when n > 0), each at its scheduled
// time whatever the answers of the previous ones, and measures each latency
// from its scheduled send time (no coordinated omission: a stalled server
// is charged for the whole time a request should have been on its way).
func openLoop(ctx context.Context, g *generator, rate float64, d time.Duration, limit int, timeout time.Duration, acked func(string)) (*outcome, error) {
	c := newClient(0, timeout)
	defer c.CloseIdleConnections()
	total := newOutcome()
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := int(rate * d.Seconds())
	if limit > 0 {
		n = min(n, limit)
	}
	interval := time.Duration(float64(time.Second) / rate)
	total.start = time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		id, req, err := g.request() // built ahead of its slot
		if err != nil {
			return nil, err
		}
		at := total.start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		wg.Go(func() {
			o := newOutcome()
			ok := send(c, req, at, o)
			mu.Lock()
			total.merge(o)
			mu.Unlock()
			if ok {
				acked(id)
			}
		})
	}
	wg.Wait()
	total.end = time.Now()
	return total, nil
}

// percentiles returns the p-quantiles of ds (sorted in place).
func percentiles(ds []time.Duration, ps ...float64) []time.Duration {
	slices.Sort(ds)
	out := make([]time.Duration, len(ps))
	if len(ds) == 0 {
		return out
	}
	for i, p := range ps {
		k := int(p*float64(len(ds))+0.5) - 1
		out[i] = ds[min(max(k, 0), len(ds)-1)]
	}
	return out
}
