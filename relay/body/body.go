// Package body reads the bodies of unauthenticated requests within bounds
// (DESIGN §5 "Resource bounds"): a size limit, a minimum rate after a grace
// period, a deadline, and one byte budget shared by every body not yet
// verified (server.max_buffered), whose reservation grows only as bytes
// arrive. It imports nothing of hooknote.
package body

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// A body is read under a minimum rate: after bodyGrace, a client must have
// sent minBodyRate bytes per second on average, and never more than the
// server's read_timeout in all. A slow client without the secret is cut off
// within seconds instead of holding its buffer.
const (
	bodyGrace   = 5 * time.Second
	minBodyRate = 16 << 10 // bytes per second
	firstChunk  = 64 << 10 // the buffer's first size when the length is unknown or large
)

// ErrBusy means the bytes of unverified bodies are at server.max_buffered.
var ErrBusy = errors.New("too many unverified bytes buffered")

// Budget counts bytes held by bodies not yet verified, all requests
// together, against server.max_buffered. Make it with NewBudget.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// take reserves n bytes, or nothing and false when that would pass the
// limit.
func (b *Budget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *Budget) give(n int64) { b.used.Add(-n) }

// NewBudget is a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// NewReader is a reader whose buffer is reserved in b.
func NewReader(b *Budget) *Reader { return &Reader{budget: b} }

// Reader reads one request body into a buffer whose capacity is
// reserved in the budget; Release returns the reservation (once the body is
// verified, or when the request ends).
type Reader struct {
	budget *Budget
	held   int64
}

// Release returns what the reader holds of the budget.
func (br *Reader) Release() {
	br.budget.give(br.held)
	br.held = 0
}

// Read reads req's body, at most limit bytes (an *http.MaxBytesError
// beyond), under the minimum rate and the deadline start+timeout (an error
// whose Timeout() is true when too slow), growing its buffer only as bytes
// arrive (ErrBusy when the budget has no room for it).
func (br *Reader) Read(w http.ResponseWriter, req *http.Request, limit int64, timeout time.Duration) ([]byte, error) {
	if req.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	start := time.Now()
	hard := start.Add(timeout)
	rc := http.NewResponseController(w)
	rd := http.MaxBytesReader(w, req.Body, limit)
	defer rd.Close()
	size := int64(firstChunk)
	if req.ContentLength >= 0 {
		size = min(req.ContentLength+1, firstChunk) // +1: the read that finds EOF
	}
	buf, err := br.grow(nil, size)
	if err != nil {
		return nil, err
	}
	for {
		if len(buf) == cap(buf) {
			if buf, err = br.grow(buf, min(2*int64(cap(buf)), limit+1)); err != nil {
				return nil, err
			}
		}
		deadline := start.Add(bodyGrace + time.Duration(len(buf))*time.Second/minBodyRate)
		if deadline.After(hard) {
			deadline = hard
		}
		if err := rc.SetReadDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return nil, err
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// grow returns buf with capacity size, its reservation taken from the
// budget first (the old buffer's given back once copied).
func (br *Reader) grow(buf []byte, size int64) ([]byte, error) {
	if !br.budget.take(size) {
		return nil, ErrBusy
	}
	grown := make([]byte, len(buf), size)
	copy(grown, buf)
	br.budget.give(int64(cap(buf)))
	br.held += size - int64(cap(buf))
	return grown, nil
}
