package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// testRoundTrip: every field of a webhook and its jobs comes back as it
// went in, byte for byte for Body and Extra — from Claim, from DeadLetter
// (no body), and after a reopen and a revival.
func testRoundTrip(t *testing.T, o opener) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	binary := hook("w1", "ev1", "failed", at(0), "r/slack")
	binary.Body, binary.Query = allBytes, "a=%00&b=%FF&c"
	binary.Jobs[0].Extra = []byte{0, 0xff, 0x80, '\n', 0}
	empty := hook("w1", "ev1", "failed", at(0), "r/slack")
	empty.Body, empty.Query = nil, ""
	large := hook("w1", "ev1", "failed", at(0), "r/slack")
	large.Body = bytes.Repeat(allBytes, 4096) // 1 MiB
	unicode := hook("msg_🙂", "évént-ü", "succeeded", at(0).In(time.FixedZone("CET", 3600)))
	unicode.Query = "customId=ü&kind=训练"
	unicode.Jobs = []store.NewJob{{Rule: "règle", Notifier: "通知", Extra: []byte("ünïcode")}, {Rule: "r", Notifier: "n", Extra: allBytes}}
	tests := []struct {
		name string
		w    store.Webhook
	}{
		{name: "binary body and extra", w: binary},
		{name: "empty body, no extra", w: empty},
		{name: "large body", w: large},
		{name: "unicode fields, time zone, two extras", w: unicode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, o, tt.w)
		})
	}
}

// roundTrip enqueues w in t's store and checks what comes back.
func roundTrip(t *testing.T, o opener, w store.Webhook) {
	s := o.store(t)
	w = cloneHook(w) // scribbled on below
	var want []store.Job
	for _, nj := range w.Jobs {
		j := pending(w, nj)
		j.Extra, j.Body = slices.Clone(nj.Extra), slices.Clone(w.Body)
		want = append(want, j)
	}
	want = sorted(want)
	enqueue(t, s, w)
	scribble(w) // the store must have copied what it keeps

	got := sorted(claim(t, s, w.ReceivedAt, 10))
	if d := diff(want, got, "ID"); d != "" {
		t.Fatalf("Claim() mismatch (-want +got):\n%s", d)
	}
	deadAt, now := at(time.Minute), at(time.Hour)
	for i, j := range got {
		want[i].ID = j.ID
		must(t, "Kill()", s.Kill(t.Context(), j.ID, store.Kill{Reason: "gone", At: deadAt}))
		dl, err := s.DeadLetter(t.Context(), j.ID)
		must(t, "DeadLetter()", err)
		if d := diff(dead(want[i], 0, "gone", deadAt), dl, deadNextAt); d != "" {
			t.Errorf("DeadLetter(%d) mismatch (-want +got):\n%s", j.ID, d)
		}
	}

	s = o.reopen(t, s)
	for i := range want {
		must(t, "Revive()", s.Revive(t.Context(), want[i].ID, now))
		want[i].LastError, want[i].FirstAt, want[i].NextAt = "gone", now, now
	}
	if d := diff(want, sorted(claim(t, s, now, 10))); d != "" {
		t.Errorf("Claim() after reopen and Revive() mismatch (-want +got):\n%s", d)
	}
}

// scribble overwrites the bytes of w's body and extras.
func scribble(w store.Webhook) {
	for _, b := range append([][]byte{w.Body}, extras(w)...) {
		for i := range b {
			b[i] = 'X'
		}
	}
}

// cloneHook returns a copy of w that shares no bytes with it.
func cloneHook(w store.Webhook) store.Webhook {
	w.Body = slices.Clone(w.Body)
	w.Jobs = slices.Clone(w.Jobs)
	for i := range w.Jobs {
		w.Jobs[i].Extra = slices.Clone(w.Jobs[i].Extra)
	}
	return w
}

// extras returns the Extra of each of w's jobs.
func extras(w store.Webhook) [][]byte {
	var out [][]byte
	for _, nj := range w.Jobs {
		out = append(out, nj.Extra)
	}
	return out
}

// testSharedBody: the body of a webhook is shared by its jobs, the dead
// letters they become and a Then job, and survives until the last of
// them is gone.
func testSharedBody(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	w := hook("w1", "ev1", "failed", at(0), "r/a", "r/b", "r/c")
	body := slices.Clone(w.Body)
	enqueue(t, s, w)
	jobs := sorted(claim(t, s, at(0), 10))
	if len(jobs) != 3 {
		t.Fatalf("Claim() = %v, want 3 jobs", routes(jobs))
	}
	a, b, c := jobs[0].ID, jobs[1].ID, jobs[2].ID
	var got []store.Job // claimed after the last step
	steps := []struct {
		name string
		do   func() error
		now  time.Time
		want []string // routes claimed after the step, each with the body
	}{
		{name: "a completed, b and c released", now: at(0), want: []string{"w1 ev1 r/b", "w1 ev1 r/c"}, do: func() error {
			return errors.Join(s.Complete(ctx, a, store.Done{}), s.Release(ctx, b), s.Release(ctx, c))
		}},
		{name: "b killed with a notice, c completed", now: at(time.Minute), want: []string{"w1 ev1 on_dead/ops"}, do: func() error {
			then := &store.NewJob{Rule: "on_dead", Notifier: "ops"}
			return errors.Join(s.Kill(ctx, b, store.Kill{Reason: "gone", At: at(time.Minute), Then: then}), s.Complete(ctx, c, store.Done{}))
		}},
		{name: "notice completed, b revived", now: at(time.Hour), want: []string{"w1 ev1 r/b"}, do: func() error {
			return errors.Join(s.Complete(ctx, got[0].ID, store.Done{}), s.Revive(ctx, b, at(time.Hour)))
		}},
	}
	for _, st := range steps {
		must(t, st.name, st.do())
		got = sorted(claim(t, s, st.now, 10))
		if d := diff(st.want, routes(got)); d != "" {
			t.Fatalf("%s: Claim() mismatch (-want +got):\n%s", st.name, d)
		}
		for _, j := range got {
			if !bytes.Equal(j.Body, body) {
				t.Errorf("%s: job %d body = %q, want %q", st.name, j.ID, j.Body, body)
			}
		}
	}
}
