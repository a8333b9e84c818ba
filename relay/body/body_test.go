package body

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// request is a POST of body; unknown makes its length unknown (chunked).
func request(body string, unknown bool) *http.Request {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if unknown {
		req.ContentLength = -1
	}
	return req
}

// TestRead: a body is read whole within its limit, its reservation held
// until Release; a body over the limit, or one the budget has no room
// for, is refused without being read.
func TestRead(t *testing.T) {
	t.Run("read and released", func(t *testing.T) {
		b := NewBudget(1 << 20)
		r := NewReader(b)
		got, err := r.Read(httptest.NewRecorder(), request(strings.Repeat("x", 300<<10), true), 1<<20, 0x7fffffff)
		if err != nil || len(got) != 300<<10 {
			t.Fatalf("Read() = %d bytes, %v, want 300 KiB", len(got), err)
		}
		if used := b.used.Load(); used < 300<<10 {
			t.Errorf("budget used %d while the body is held, want at least its size", used)
		}
		r.Release()
		if used := b.used.Load(); used != 0 {
			t.Errorf("budget used %d after Release, want 0", used)
		}
	})
	t.Run("declared length over the limit", func(t *testing.T) {
		b := NewBudget(1 << 20)
		_, err := NewReader(b).Read(httptest.NewRecorder(), request(strings.Repeat("x", 2000), false), 1000, 0x7fffffff)
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) || b.used.Load() != 0 {
			t.Errorf("Read() = %v, budget used %d, want a MaxBytesError and nothing reserved", err, b.used.Load())
		}
	})
	t.Run("unknown length over the limit", func(t *testing.T) {
		b := NewBudget(1 << 20)
		r := NewReader(b)
		_, err := r.Read(httptest.NewRecorder(), request(strings.Repeat("x", 2000), true), 1000, 0x7fffffff)
		var tooBig *http.MaxBytesError
		if !errors.As(err, &tooBig) {
			t.Errorf("Read() = %v, want a MaxBytesError", err)
		}
		r.Release()
		if b.used.Load() != 0 {
			t.Errorf("budget used %d after Release, want 0", b.used.Load())
		}
	})
	t.Run("budget full", func(t *testing.T) {
		b := NewBudget(1 << 10)
		_, err := NewReader(b).Read(httptest.NewRecorder(), request(strings.Repeat("x", 2000), false), 1<<20, 0x7fffffff)
		if !errors.Is(err, ErrBusy) || b.used.Load() != 0 {
			t.Errorf("Read() = %v, budget used %d, want ErrBusy and nothing reserved", err, b.used.Load())
		}
	})
}
