package storetest

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hooknote/hooknote/store"
)

// at returns the suite's fixed reference instant t0 plus d: every time the
// suite uses comes from here, never from the wall clock.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC).Add(d)
}

// hook builds webhook id of event at status, received at when, with one
// job per "rule/notifier" route. Its body and query are distinct per
// (id, event, status).
func hook(id, event, status string, when time.Time, routes ...string) store.Webhook {
	w := store.Webhook{
		WebhookID:  id,
		EventID:    event,
		Status:     status,
		Terminal:   slices.Contains([]string{"succeeded", "failed", "canceled", "aborted"}, status),
		Body:       fmt.Appendf(nil, `{"id":%q,"status":%q,"webhook":%q}`, event, status, id),
		Query:      "customId=7&hook=" + id,
		ReceivedAt: when,
	}
	for _, r := range routes {
		rule, notifier, _ := strings.Cut(r, "/")
		w.Jobs = append(w.Jobs, store.NewJob{Rule: rule, Notifier: notifier})
	}
	return w
}

// pending is the job that w's job nj becomes when enqueued, with id 0:
// due at w.ReceivedAt, no attempt.
func pending(w store.Webhook, nj store.NewJob) store.Job {
	return store.Job{
		EventID: w.EventID, Status: w.Status, Rule: nj.Rule, Notifier: nj.Notifier,
		WebhookID: w.WebhookID, Query: w.Query, ReceivedAt: w.ReceivedAt,
		FirstAt: w.ReceivedAt, NextAt: w.ReceivedAt, Extra: nj.Extra, Body: w.Body,
	}
}

// dead is job j as a dead letter: without its body.
func dead(j store.Job, attempts int, reason string, deadAt time.Time) store.Job {
	j.Attempts, j.LastError, j.DeadAt, j.Body = attempts, reason, deadAt, nil
	return j
}

// enqueue enqueues w, failing t on error.
func enqueue(t *testing.T, s store.Store, w store.Webhook) store.Enqueued {
	t.Helper()
	res, err := s.Enqueue(t.Context(), w)
	if err != nil {
		t.Fatalf("Enqueue(%q) = %v, want nil error", w.WebhookID, err)
	}
	return res
}

// claim claims up to max jobs due at now, failing t on error.
func claim(t *testing.T, s store.Store, now time.Time, max int) []store.Job {
	t.Helper()
	jobs, err := s.Claim(t.Context(), now, max, nil)
	if err != nil {
		t.Fatalf("Claim(%v, %d) = %v, want nil error", now, max, err)
	}
	return jobs
}

// claimOneOf claims the one job of notifier due at now, failing t if there
// is not exactly one.
func claimOneOf(t *testing.T, s store.Store, now time.Time, notifier string) store.Job {
	t.Helper()
	jobs, err := s.Claim(t.Context(), now, 10, map[string]int{notifier: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Claim(%v, %s) = %v, %v, want one job", now, notifier, routes(jobs), err)
	}
	return jobs[0]
}

// claimOne claims the one job due at now, failing t if there is not
// exactly one.
func claimOne(t *testing.T, s store.Store, now time.Time) store.Job {
	t.Helper()
	jobs := claim(t, s, now, 10)
	if len(jobs) != 1 {
		t.Fatalf("Claim(%v, 10) = %d jobs, want 1", now, len(jobs))
	}
	return jobs[0]
}

// stats returns s's stats, failing t on error.
func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats() = %v, want nil error", err)
	}
	return st
}

// deadLetters lists s's dead letters, failing t on error.
func deadLetters(t *testing.T, s store.Store) []store.Job {
	t.Helper()
	jobs, err := s.Dead(t.Context())
	if err != nil {
		t.Fatalf("Dead() = %v, want nil error", err)
	}
	return jobs
}

// must fails t when err, the result of the call named op, is not nil.
func must(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v, want nil", op, err)
	}
}

// diff is cmp.Diff for the store's types: times compare as instants
// (time.Time's Equal), a nil slice equals an empty one, bytes compare with
// bytes.Equal (go-cmp's element walk takes seconds over a large body), and
// the Job fields named in ignore are left out.
func diff(want, got any, ignore ...string) string {
	nonEmpty := func(a, b []byte) bool { return len(a)+len(b) > 0 }
	opts := []gocmp.Option{cmpopts.EquateEmpty(), gocmp.FilterValues(nonEmpty, gocmp.Comparer(bytes.Equal))}
	if len(ignore) > 0 {
		opts = append(opts, cmpopts.IgnoreFields(store.Job{}, ignore...))
	}
	return gocmp.Diff(want, got, opts...)
}

// sorted returns jobs in due order, ties (whose order the contract leaves
// open) broken by event, rule, notifier and webhook id.
func sorted(jobs []store.Job) []store.Job {
	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(a, b store.Job) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.EventID, b.EventID),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Notifier, b.Notifier),
			cmp.Compare(a.WebhookID, b.WebhookID))
	})
	return jobs
}

// routes returns the "webhook event rule/notifier" of each job.
func routes(jobs []store.Job) []string {
	out := make([]string, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j.WebhookID+" "+j.EventID+" "+j.Rule+"/"+j.Notifier)
	}
	return out
}

// ids returns the ids of jobs, failing t if two are equal.
func ids(t *testing.T, jobs []store.Job) []uint64 {
	t.Helper()
	out := make([]uint64, 0, len(jobs))
	for _, j := range jobs {
		if slices.Contains(out, j.ID) {
			t.Errorf("job id %d appears twice in %v", j.ID, routes(jobs))
		}
		out = append(out, j.ID)
	}
	return out
}

// unknownID returns an id that is none of the known ones.
func unknownID(known ...uint64) uint64 {
	return slices.Max(append(known, 0)) + 1_000_003
}
