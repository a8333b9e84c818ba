package storetest

import (
	"testing"
	"time"

	"github.com/hooknote/hooknote/store"
)

// enqueueCase is a sequence of webhooks enqueued into an empty store, the
// result of each, and the number of jobs pending afterwards.
type enqueueCase struct {
	name        string
	hooks       []store.Webhook
	want        []store.Enqueued
	wantPending int
}

// runEnqueueCases runs each case against its own store.
func runEnqueueCases(t *testing.T, o opener, tests []enqueueCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := o.store(t)
			var got []store.Enqueued
			for _, w := range tt.hooks {
				got = append(got, enqueue(t, s, w))
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("Enqueue() results mismatch (-want +got):\n%s", d)
			}
			if got := stats(t, s).Pending; got != tt.wantPending {
				t.Errorf("Stats().Pending = %d, want %d", got, tt.wantPending)
			}
		})
	}
}

// testEnqueue: accepted counts, the webhook-id key, the (event, status,
// rule, notifier) job keys and NoDedupe jobs.
func testEnqueue(t *testing.T, o opener) {
	t0 := at(0)
	notice := func(id string) store.Webhook {
		w := hook(id, "ev1", "failed", t0)
		w.Jobs = []store.NewJob{{Rule: "on_dead", Notifier: "ops", NoDedupe: true, Extra: []byte("n")}}
		return w
	}
	mixed := hook("w1", "ev1", "failed", t0, "r/slack")
	mixed.Jobs = append(mixed.Jobs, notice("").Jobs...)
	mixed2 := mixed
	mixed2.WebhookID = "w2"
	split := func(id, rule, notifier string) store.Webhook {
		w := hook(id, "ev1", "failed", t0)
		w.Jobs = []store.NewJob{{Rule: rule, Notifier: notifier}}
		return w
	}
	runEnqueueCases(t, o, []enqueueCase{
		{name: "new webhook", hooks: []store.Webhook{hook("w1", "ev1", "succeeded", t0, "r/slack", "r/email")},
			want: []store.Enqueued{{Accepted: 2}}, wantPending: 2},
		{name: "same webhook id is a duplicate whatever its jobs", hooks: []store.Webhook{
			hook("w1", "ev1", "processing", t0, "r/slack"),
			hook("w1", "ev2", "failed", t0.Add(time.Minute), "r/slack", "r/email")},
			want: []store.Enqueued{{Accepted: 1}, {Duplicate: true}}, wantPending: 1},
		{name: "same event status rule notifier under another webhook id", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"), hook("w2", "ev1", "failed", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Duplicate: true}}, wantPending: 1},
		{name: "partial duplicate accepts the new jobs", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"), hook("w2", "ev1", "failed", t0, "r/slack", "r/email")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
		{name: "every job a duplicate still records the webhook id", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"), hook("w2", "ev1", "failed", t0, "r/slack"),
			hook("w2", "ev1", "failed", t0, "r/email")},
			want: []store.Enqueued{{Accepted: 1}, {Duplicate: true}, {Duplicate: true}}, wantPending: 1},
		{name: "same route twice in one webhook", hooks: []store.Webhook{hook("w1", "ev1", "failed", t0, "r/slack", "r/slack")},
			want: []store.Enqueued{{Accepted: 1}}, wantPending: 1},
		{name: "another status is another job key", hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0, "r/slack"), hook("w2", "ev1", "processing", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
		{name: "key parts do not run together", hooks: []store.Webhook{split("w1", "a", "b:c"), split("w2", "a:b", "c")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
		{name: "no jobs records the webhook id", hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0), hook("w1", "ev1", "starting", t0, "r/slack")},
			want: []store.Enqueued{{}, {Duplicate: true}}},
		{name: "NoDedupe jobs are never duplicates", hooks: []store.Webhook{notice("n1"), notice("n2")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
		{name: "NoDedupe beside a duplicate job", hooks: []store.Webhook{mixed, mixed2},
			want: []store.Enqueued{{Accepted: 2}, {Accepted: 1}}, wantPending: 3},
		{name: "empty webhook id dedupes by job keys", hooks: []store.Webhook{
			hook("", "ev1", "failed", t0, "r/slack"), hook("", "ev1", "failed", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Duplicate: true}}, wantPending: 1},
	})
}

// testEnqueueStale: a non-terminal webhook after a terminal one of its
// event is stale, and only its webhook id is recorded.
func testEnqueueStale(t *testing.T, o opener) {
	t0 := at(0)
	runEnqueueCases(t, o, []enqueueCase{
		{name: "terminal then non-terminal is stale, its id recorded", hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0, "r/slack"), hook("w2", "ev1", "processing", t0, "r/slack"),
			hook("w2", "ev1", "processing", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Stale: true}, {Duplicate: true}}, wantPending: 1},
		{name: "stale whatever the order of ReceivedAt", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0.Add(time.Hour), "r/slack"), hook("w2", "ev1", "starting", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Stale: true}}, wantPending: 1},
		{name: "terminal without jobs still marks the event", hooks: []store.Webhook{
			hook("w1", "ev1", "canceled", t0), hook("w2", "ev1", "processing", t0, "r/slack")},
			want: []store.Enqueued{{}, {Stale: true}}},
		{name: "terminal after terminal is not stale", hooks: []store.Webhook{
			hook("w1", "ev1", "processing", t0, "r/slack"), hook("w2", "ev1", "succeeded", t0, "r/slack"),
			hook("w3", "ev1", "failed", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}, {Accepted: 1}}, wantPending: 3},
		{name: "a duplicate webhook id is not stale", hooks: []store.Webhook{
			hook("w1", "ev1", "processing", t0, "r/slack"), hook("w2", "ev1", "succeeded", t0, "r/slack"),
			hook("w1", "ev1", "processing", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}, {Duplicate: true}}, wantPending: 2},
		{name: "the terminal mark is per event", hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0, "r/slack"), hook("w2", "ev2", "processing", t0, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
	})
}

// testEnqueueExpiry: keys expire at the ReceivedAt of the webhook that
// wrote them plus DedupeFor; an expired key counts as absent.
func testEnqueueExpiry(t *testing.T, o opener) {
	t0, live, gone := at(0), at(DedupeFor-time.Second), at(DedupeFor+time.Hour)
	runEnqueueCases(t, o, []enqueueCase{
		{name: "webhook id live until the window ends", hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0), hook("w1", "ev2", "failed", live, "r/slack")},
			want: []store.Enqueued{{}, {Duplicate: true}}},
		{name: "webhook id expired", hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0), hook("w1", "ev2", "failed", gone, "r/slack")},
			want: []store.Enqueued{{}, {Accepted: 1}}, wantPending: 1},
		{name: "job key live until the window ends", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"), hook("w2", "ev1", "failed", live, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Duplicate: true}}, wantPending: 1},
		{name: "job key expired", hooks: []store.Webhook{
			hook("w1", "ev1", "failed", t0, "r/slack"), hook("w2", "ev1", "failed", gone, "r/slack")},
			want: []store.Enqueued{{Accepted: 1}, {Accepted: 1}}, wantPending: 2},
		{name: "terminal mark live until the window ends", hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0), hook("w2", "ev1", "processing", live, "r/slack")},
			want: []store.Enqueued{{}, {Stale: true}}},
		{name: "terminal mark expired", hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0), hook("w2", "ev1", "processing", gone, "r/slack")},
			want: []store.Enqueued{{}, {Accepted: 1}}, wantPending: 1},
		{name: "an expired webhook id is written again", hooks: []store.Webhook{
			hook("w1", "ev1", "starting", t0), hook("w1", "ev1", "starting", gone),
			hook("w1", "ev1", "starting", gone.Add(DedupeFor-time.Second), "r/slack")},
			want: []store.Enqueued{{}, {}, {Duplicate: true}}},
		{name: "a later terminal webhook renews the terminal mark", hooks: []store.Webhook{
			hook("w1", "ev1", "succeeded", t0), hook("w2", "ev1", "failed", at(100*time.Hour)),
			hook("w3", "ev1", "processing", gone, "r/slack")},
			want: []store.Enqueued{{}, {}, {Stale: true}}},
	})
}
