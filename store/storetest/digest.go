package storetest

import (
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// joining builds webhook id of event at status joining the digest of rule
// r, notifier n and group with quiet 2m, max wait 5m and max.
func joining(id, event, status string, when time.Time, group string, max int) store.Webhook {
	w := hook(id, event, status, when)
	w.Jobs = []store.NewJob{{Rule: "r", Notifier: "n", Digest: &store.DigestJoin{
		Group: group, Quiet: 2 * time.Minute, MaxWait: 5 * time.Minute, Max: max, Extra: []byte("group " + group),
	}}}
	return w
}

// flush flushes the digests due at now, failing t on error.
func flush(t *testing.T, s store.Store, now time.Time) map[string]int {
	t.Helper()
	sent, err := s.FlushDigests(t.Context(), now)
	if err != nil {
		t.Fatalf("FlushDigests(%v) = %v", now, err)
	}
	for r, n := range sent {
		if n == 0 {
			delete(sent, r)
		}
	}
	return sent
}

// nextDigest returns NextDigest, failing t on error.
func nextDigest(t *testing.T, s store.Store) (time.Time, bool) {
	t.Helper()
	at, ok, err := s.NextDigest(t.Context())
	if err != nil {
		t.Fatalf("NextDigest() = %v", err)
	}
	return at, ok
}

// testDigestQuiet: events join one open digest, which queues nothing until
// it is sent; every join restarts its quiet time; once no event joined for
// Quiet it is sent as one job carrying every event, oldest first.
func testDigestQuiet(t *testing.T, o opener) {
	s := o.store(t)
	if res := enqueue(t, s, joining("w1", "ev1", "failed", at(0), "g", 100)); res.Accepted != 1 {
		t.Fatalf("Enqueue(join) = %+v, want 1 accepted", res)
	}
	enqueue(t, s, joining("w2", "ev2", "failed", at(time.Minute), "g", 100))
	if st := stats(t, s); st.OpenDigests != 1 || st.Pending != 0 {
		t.Errorf("Stats() = %+v, want one open digest and no job", st)
	}
	if jobs := claim(t, s, at(time.Hour), 10); len(jobs) != 0 {
		t.Fatalf("Claim() with a digest open = %v, want none", routes(jobs))
	}
	if next, ok := nextDigest(t, s); !ok || !next.Equal(at(3*time.Minute)) {
		t.Errorf("NextDigest() = %v, %v, want the last join + quiet (%v)", next, ok, at(3*time.Minute))
	}
	if sent := flush(t, s, at(3*time.Minute-time.Microsecond)); len(sent) != 0 {
		t.Errorf("FlushDigests() before it is due = %v, want nothing", sent)
	}
	if sent := flush(t, s, at(3*time.Minute)); sent["quiet"] != 1 || len(sent) != 1 {
		t.Fatalf("FlushDigests() when quiet = %v, want quiet: 1", sent)
	}
	if st := stats(t, s); st.OpenDigests != 0 || st.Pending != 1 {
		t.Errorf("Stats() after sending = %+v, want no open digest, one job", st)
	}
	j := claimOne(t, s, at(3*time.Minute))
	d := j.Digest
	if d == nil || j.Rule != "r" || j.Notifier != "n" {
		t.Fatalf("digest job = %+v, want a job of r/n carrying the digest", j)
	}
	if d.Reason != "quiet" || d.Group != "g" || string(d.Extra) != "group g" || !d.First.Equal(at(0)) || !d.Last.Equal(at(time.Minute)) ||
		len(d.Events) != 2 || d.Events[0].EventID != "ev1" || d.Events[1].EventID != "ev2" || len(d.Events[0].Body) == 0 {
		t.Errorf("digest = %+v, want ev1 then ev2 of group g, sent when quiet", d)
	}
	if _, ok := nextDigest(t, s); ok {
		t.Errorf("NextDigest() after sending = ok, want none open")
	}
}

// testDigestLimits: a digest is sent when its first event has waited
// MaxWait however often events join, and at once when it holds Max events.
func testDigestLimits(t *testing.T, o opener) {
	s := o.store(t)
	for i, id := range []string{"a", "b", "c", "d", "e", "f"} {
		enqueue(t, s, joining("w"+id, "ev"+id, "failed", at(time.Duration(i)*time.Minute), "slow", 100))
	}
	if next, _ := nextDigest(t, s); !next.Equal(at(5 * time.Minute)) {
		t.Errorf("NextDigest() = %v, want the first join + max wait (%v)", next, at(5*time.Minute))
	}
	if sent := flush(t, s, at(5*time.Minute)); sent["max_wait"] != 1 {
		t.Errorf("FlushDigests() after max wait = %v, want max_wait: 1", sent)
	}
	for i, id := range []string{"x", "y", "z"} {
		enqueue(t, s, joining("w"+id, "ev"+id, "failed", at(time.Hour+time.Duration(i)*time.Second), "full", 3))
	}
	if next, _ := nextDigest(t, s); !next.Equal(at(time.Hour + 2*time.Second)) {
		t.Errorf("NextDigest() of a full digest = %v, want its last join (%v)", next, at(time.Hour+2*time.Second))
	}
	if sent := flush(t, s, at(time.Hour+2*time.Second)); sent["max"] != 1 {
		t.Errorf("FlushDigests() of a full digest = %v, want max: 1", sent)
	}
	// Joins faster than FlushDigests: a full digest is sent by the join
	// that finds it full.
	for i, id := range []string{"p", "q", "r", "s", "u"} {
		enqueue(t, s, joining("w"+id, "ev"+id, "failed", at(2*time.Hour+time.Duration(i)*time.Second), "fast", 2))
	}
	if st := stats(t, s); st.OpenDigests != 1 || st.Pending != 4 {
		t.Errorf("after 5 joins to digests of 2 = %+v, want 2 sent by the joins, 1 open, and the 2 sent before", st)
	}
	sizes := map[string][]int{}
	for _, j := range claim(t, s, at(3*time.Hour), 10) {
		sizes[j.Digest.Reason] = append(sizes[j.Digest.Reason], len(j.Digest.Events))
	}
	if d := diff(map[string][]int{"max_wait": {6}, "max": {3, 2, 2}}, sizes); d != "" {
		t.Errorf("digests sent, events by reason (-want +got):\n%s", d)
	}
}

// testDigestLatest: an event that joins again with a later status is in
// the digest once, with its latest webhook, and moves to its current
// group's digest; another rule or notifier gathers its own; after a digest
// is sent, a later status joins a new one.
func testDigestLatest(t *testing.T, o opener) {
	s := o.store(t)
	enqueue(t, s, joining("w1", "ev1", "processing", at(0), "A", 100))
	enqueue(t, s, joining("w2", "ev2", "processing", at(0), "A", 100))
	enqueue(t, s, joining("w3", "ev1", "failed", at(time.Second), "B", 100))
	other := joining("w4", "ev1", "failed", at(time.Second), "B", 100)
	other.Jobs[0].Notifier = "n2"
	enqueue(t, s, other)
	if st := stats(t, s); st.OpenDigests != 3 {
		t.Errorf("Stats().OpenDigests = %d, want 3 (r/n A, r/n B, r/n2 B)", st.OpenDigests)
	}
	flush(t, s, at(time.Hour))
	got := map[string][]string{}
	for _, j := range claim(t, s, at(time.Hour), 10) {
		for _, e := range j.Digest.Events {
			got[j.Notifier+" "+j.Digest.Group] = append(got[j.Notifier+" "+j.Digest.Group], e.EventID+":"+e.Status)
		}
	}
	want := map[string][]string{"n A": {"ev2:processing"}, "n B": {"ev1:failed"}, "n2 B": {"ev1:failed"}}
	if d := diff(want, got); d != "" {
		t.Errorf("digests (-want +got):\n%s", d)
	}
	enqueue(t, s, joining("w5", "ev1", "canceled", at(2*time.Hour), "B", 100))
	if st := stats(t, s); st.OpenDigests != 1 {
		t.Errorf("after a digest was sent, a later status: OpenDigests = %d, want a new one", st.OpenDigests)
	}
}

// testDigestDurable: open digests and their deadlines survive a reopen; a
// dead digest keeps its events (listed without bodies) and is sent again
// when revived.
func testDigestDurable(t *testing.T, o opener) {
	s := o.store(t)
	ctx := t.Context()
	enqueue(t, s, joining("w1", "ev1", "failed", at(0), "g", 100))
	enqueue(t, s, joining("w2", "ev2", "failed", at(time.Minute), "g", 100))
	s = o.reopen(t, s)
	if next, ok := nextDigest(t, s); !ok || !next.Equal(at(3*time.Minute)) {
		t.Fatalf("NextDigest() after a reopen = %v, %v, want %v", next, ok, at(3*time.Minute))
	}
	flush(t, s, at(3*time.Minute))
	j := claimOne(t, s, at(3*time.Minute))
	must(t, "Kill", s.Kill(ctx, j.ID, store.Kill{Reason: "channel_not_found", Attempted: true, At: at(4 * time.Minute)}))
	dl, err := s.DeadLetter(ctx, j.ID)
	if err != nil || dl.Digest == nil || len(dl.Digest.Events) != 2 || dl.Digest.Events[0].Body != nil {
		t.Fatalf("DeadLetter(digest) = %+v, %v, want its 2 events without bodies", dl, err)
	}
	must(t, "Revive", s.Revive(ctx, j.ID, at(5*time.Minute)))
	again := claimOne(t, s, at(5*time.Minute))
	if again.Digest == nil || len(again.Digest.Events) != 2 || len(again.Digest.Events[1].Body) == 0 {
		t.Errorf("revived digest = %+v, want its 2 events with bodies", again.Digest)
	}
	must(t, "Complete", s.Complete(ctx, again.ID, store.Done{}))
	if st := stats(t, s); st.Pending != 0 || st.Dead != 0 || st.OpenDigests != 0 {
		t.Errorf("Stats() = %+v, want empty", st)
	}
}
