package main

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// tracker remembers when each event id was acknowledged by the server and
// when the sink received its delivery.
type tracker struct {
	mu        sync.Mutex
	acked     map[string]time.Time
	delivered map[string]time.Time
	dups      int // deliveries of an id already delivered
	bad       int // sink requests without a readable id
	matched   int // acknowledged ids delivered
}

func newTracker() *tracker {
	return &tracker{acked: map[string]time.Time{}, delivered: map[string]time.Time{}}
}

func (t *tracker) ack(id string) {
	now := time.Now()
	t.mu.Lock()
	t.acked[id] = now
	if _, ok := t.delivered[id]; ok {
		t.matched++
	}
	t.mu.Unlock()
}

func (t *tracker) deliver(id string) {
	now := time.Now()
	t.mu.Lock()
	if _, seen := t.delivered[id]; seen {
		t.dups++
	} else {
		t.delivered[id] = now
		if _, ok := t.acked[id]; ok {
			t.matched++
		}
	}
	t.mu.Unlock()
}

// ServeHTTP is the sink: hooknote's webhook notifier POSTs the rendered
// webhook.body, a JSON object whose "id" is the event id.
func (t *tracker) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b struct {
		ID string `json:"id"`
	}
	err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&b)
	if err != nil || b.ID == "" {
		t.mu.Lock()
		t.bad++
		t.mu.Unlock()
		http.Error(w, "no id", http.StatusBadRequest)
		return
	}
	t.deliver(b.ID)
	w.WriteHeader(http.StatusNoContent)
}

// serveSink starts the sink on addr; the returned func stops it.
func serveSink(addr string, t *tracker) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return func() { srv.Close() }, nil
}

// waitDelivered waits until every acknowledged id has been delivered, or
// for at most max.
func (t *tracker) waitDelivered(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		t.mu.Lock()
		done := t.matched == len(t.acked)
		t.mu.Unlock()
		if done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliveryReport summarises the deliveries of acknowledged ids.
type deliveryReport struct {
	acked, delivered, missing, dups, unknown, bad int
	latencies                                     []time.Duration // ack → delivery
	early                                         int             // delivered before the ack reached the load generator
	afterLoad                                     int             // delivered after the load ended
	last                                          time.Time
}

// report matches deliveries to acknowledgements; loadEnd is when the load
// ended.
func (t *tracker) report(loadEnd time.Time) deliveryReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := deliveryReport{acked: len(t.acked), dups: t.dups, bad: t.bad}
	for id, at := range t.delivered {
		if at.After(r.last) {
			r.last = at
		}
		if at.After(loadEnd) {
			r.afterLoad++
		}
		ackAt, ok := t.acked[id]
		if !ok {
			r.unknown++
			continue
		}
		r.delivered++
		d := at.Sub(ackAt)
		if d < 0 {
			r.early++
			d = 0
		}
		r.latencies = append(r.latencies, d)
	}
	r.missing = r.acked - r.delivered
	return r
}
