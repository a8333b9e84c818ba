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
	last      time.Time
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
	t.last = now
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

// lastDelivery is when the sink last received a delivery (zero: never).
func (t *tracker) lastDelivery() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// hangSink is the sink of -sink-hang: it reads each request and never
// answers; the request ends when the sender gives up (closes the
// connection) or the sink stops, and then the connection is dropped
// without an answer.
type hangSink struct {
	stop           chan struct{}
	mu             sync.Mutex
	reqs, now, max int // requests received, waiting now, most waiting at once
}

func newHangSink() *hangSink { return &hangSink{stop: make(chan struct{})} }

func (h *hangSink) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// Reading the whole body lets net/http watch the connection, so that
	// the request's context ends when the sender closes it.
	_, _ = io.Copy(io.Discard, req.Body)
	h.mu.Lock()
	h.reqs++
	h.now++
	h.max = max(h.max, h.now)
	h.mu.Unlock()
	select {
	case <-req.Context().Done():
	case <-h.stop:
	}
	h.mu.Lock()
	h.now--
	h.mu.Unlock()
	panic(http.ErrAbortHandler) // close the connection without an answer
}

func (h *hangSink) counts() (reqs, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reqs, h.max
}

// sinkHandler is the sink's handler: t, or with hang a hangSink.
func sinkHandler(t *tracker, hang bool) http.Handler {
	if hang {
		return newHangSink()
	}
	return t
}

// serveSink starts the sink h on addr; the returned func stops it.
func serveSink(addr string, h http.Handler) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return func() {
		if hs, ok := h.(*hangSink); ok {
			close(hs.stop)
		}
		srv.Close()
	}, nil
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
	atEnd                                         int       // acknowledged ids delivered by the end of the load
	inWindow                                      int       // acknowledged ids delivered by the end of the load + wait
	lastInWindow                                  time.Time // the last of those
}

// report matches deliveries to acknowledgements; the load ran from
// loadStart to loadEnd and deliveries were awaited for wait after it.
func (t *tracker) report(loadStart, loadEnd time.Time, wait time.Duration) deliveryReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := deliveryReport{acked: len(t.acked), dups: t.dups, bad: t.bad}
	deadline := loadEnd.Add(wait)
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
		if !at.After(loadEnd) {
			r.atEnd++
		}
		if !at.After(deadline) {
			r.inWindow++
			if at.After(r.lastInWindow) {
				r.lastInWindow = at
			}
		}
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
