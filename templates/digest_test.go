package templates

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// sampleDigest is a digest of 15 events made from the sample events with
// distinct ids, joined a minute or so apart from 12:01 to 12:19: 8
// succeeded, 5 failed with 3 distinct errors (one of them hostile), 2
// canceled; one event has no link, the failed ones only an API link.
func sampleDigest() *Digest {
	samples := map[string]event{}
	for _, s := range sampleEvents() {
		samples[s.name] = s.ev
	}
	cuda := samples["prediction_failed"].Error
	plan := []struct {
		sample string
		err    string
	}{
		{sample: "prediction_succeeded"},
		{sample: "prediction_succeeded"},
		{sample: "prediction_failed", err: cuda},
		{sample: "prediction_succeeded"},
		{sample: "prediction_failed", err: "\n  " + cuda + "  \nTraceback (most recent call last):\n  File \"predict.py\""},
		{sample: "prediction_canceled"},
		{sample: "prediction_failed", err: "NSFW content detected. Try running it again, or try a different prompt."},
		{sample: "prediction_succeeded"},
		{sample: "prediction_failed", err: "<!channel> model crashed `rm -rf` \u202Eevil\n<@U123> see logs"},
		{sample: "prediction_succeeded"},
		{sample: "prediction_failed", err: cuda + "\nanother detail"},
		{sample: "prediction_canceled"},
		{sample: "prediction_succeeded"},
		{sample: "prediction_succeeded"},
		{sample: "prediction_succeeded"},
	}
	var events []*event
	for i, p := range plan {
		ev := samples[p.sample]
		ev.ID = fmt.Sprintf("dg%02dq5t9hrj00cm4x3z1w7v6e", i)
		ev.Model = "acme/upscaler"
		ev.Error = p.err
		ev.Query = map[string]string{"customId": "batch-7"}
		ev.Rule, ev.Notifier = "failed-batch", "ml-alerts"
		ev.ReceivedAt = at(12*3600 + 60 + float64(i)*77)
		switch {
		case i == 9:
			ev.URLs = urls{}
		case p.sample == "prediction_failed":
			ev.URLs = urls{Get: "https://api.replicate.com/v1/predictions/" + ev.ID}
		default:
			ev.URLs = urls{Web: "https://replicate.com/p/" + ev.ID, Get: "https://api.replicate.com/v1/predictions/" + ev.ID}
		}
		events = append(events, &ev)
	}
	group := map[string]string{"model": "acme/upscaler", "query.customId": "batch-7"}
	return NewDigest("failed-batch", "ml-alerts", group, at(12*3600+60), at(12*3600+19*60), events)
}

// TestNewDigest checks the counts, the error texts (first non-blank line,
// trimmed, cut to 200 runes), their order, and one event per id.
func TestNewDigest(t *testing.T) {
	long := strings.Repeat("é", 250)
	e := func(id, status, err string) *event { return &event{ID: id, Status: status, Error: err} }
	tests := []struct {
		name     string
		events   []*event
		ids      []string
		statuses map[string]int
		errors   []ErrorCount
	}{
		{name: "none", statuses: map[string]int{}},
		{
			name:     "grouping and order",
			events:   []*event{e("a", "failed", "B"), e("b", "succeeded", ""), e("c", "failed", "A\nmore"), e("d", "failed", "  \r\n  A  \r\nother"), e("e", "failed", "B"), e("f", "aborted", "C"), e("g", "canceled", " \n\t")},
			ids:      []string{"a", "b", "c", "d", "e", "f", "g"},
			statuses: map[string]int{"failed": 4, "succeeded": 1, "aborted": 1, "canceled": 1},
			errors:   []ErrorCount{{Text: "B", Count: 2}, {Text: "A", Count: 2}, {Text: "C", Count: 1}},
		},
		{
			name:     "cut to 200 runes",
			events:   []*event{e("a", "failed", long+"x"), e("b", "failed", long+"y\nz")},
			ids:      []string{"a", "b"},
			statuses: map[string]int{"failed": 2},
			errors:   []ErrorCount{{Text: strings.Repeat("é", 199) + "…", Count: 2}},
		},
		{
			name:     "latest status of an id, nil skipped",
			events:   []*event{e("a", "processing", ""), nil, e("b", "failed", "X"), e("a", "failed", "Y"), e("", "weird", ""), e("", "weird", "")},
			ids:      []string{"b", "a", "", ""},
			statuses: map[string]int{"failed": 2, "weird": 2},
			errors:   []ErrorCount{{Text: "X", Count: 1}, {Text: "Y", Count: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDigest("r", "n", nil, at(1), at(2), tc.events)
			var ids []string
			for _, ev := range d.Events {
				ids = append(ids, ev.ID)
			}
			if diff := cmp.Diff(tc.ids, ids); diff != "" {
				t.Errorf("NewDigest().Events ids mismatch (-want +got):\n%s", diff)
			}
			if d.Count != len(tc.ids) {
				t.Errorf("NewDigest().Count = %d, want %d", d.Count, len(tc.ids))
			}
			if diff := cmp.Diff(tc.statuses, d.Statuses); diff != "" {
				t.Errorf("NewDigest().Statuses mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.errors, d.Errors); diff != "" {
				t.Errorf("NewDigest().Errors mismatch (-want +got):\n%s", diff)
			}
			if d.Group == nil || d.Rule != "r" || d.Notifier != "n" || !d.First.Equal(at(1)) || !d.Last.Equal(at(2)) {
				t.Errorf("NewDigest() = %+v, want an empty group and the rule, notifier, first and last given", d)
			}
		})
	}
}

// TestStatusCounts checks the order: problems first, then the rest, then
// unknown statuses by name.
func TestStatusCounts(t *testing.T) {
	got := statusCounts(map[string]int{"succeeded": 4, "zeta": 1, "failed": 2, "alpha": 3, "starting": 1, "aborted": 0})
	want := []statusCount{{"failed", 2}, {"succeeded", 4}, {"starting", 1}, {"alpha", 3}, {"zeta", 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statusCounts mismatch (-want +got):\n%s", diff)
	}
}

// TestDigestPayload checks webhook.digest's object: the contract's keys,
// each event as webhook.body renders it, nulls for unknown times.
func TestDigestPayload(t *testing.T) {
	set := newSet(t, nil)
	d := sampleDigest()
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(render(t, set, "webhook.digest", false, None, d)), &got); err != nil {
		t.Fatalf("webhook.digest is not a JSON object: %v", err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	want := []string{"rule", "notifier", "group", "count", "statuses", "first", "last", "events"}
	if diff := cmp.Diff(want, keys, cmpSortStrings()); diff != "" {
		t.Errorf("webhook.digest keys mismatch (-want +got):\n%s", diff)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(got["events"], &events); err != nil || len(events) != d.Count {
		t.Fatalf("webhook.digest events = %d, %v, want %d", len(events), err, d.Count)
	}
	body := render(t, set, "webhook.body", false, None, d.Events[3])
	if string(events[3]) != body {
		t.Errorf("webhook.digest events[3] = %s, want webhook.body's %s", events[3], body)
	}
	empty := render(t, set, "webhook.digest", false, None, &Digest{})
	if want := `{"count":0,"events":[],"first":null,"group":{},"last":null,"notifier":"","rule":"","statuses":{}}`; empty != want {
		t.Errorf("webhook.digest of an empty digest = %s, want %s", empty, want)
	}
}

// TestDigestSize renders the digest templates for 1000 events with long
// hostile errors, ids, statuses and links: slack.digest stays under Slack's
// 40,000 characters, says how many more, and mentions no one.
func TestDigestSize(t *testing.T) {
	var events []*event
	for i := range 1000 {
		events = append(events, &event{
			ID:     fmt.Sprintf("%04d", i) + strings.Repeat("&", 1000),
			Status: fmt.Sprintf("s%03d", i%100) + strings.Repeat("<", 60),
			Model:  fmt.Sprintf("acme/m%d", i) + strings.Repeat("&", 1000),
			Error:  fmt.Sprintf("%d", i%50) + strings.Repeat("<!channel>&", 30),
			URLs:   urls{Web: "https://replicate.com/p/x?" + strings.Repeat("a=1&", 16000)},
			Query:  map[string]string{"customId": strings.Repeat("<@U1>", 200)},
		})
	}
	group := map[string]string{"query.customId": strings.Repeat("<!here>", 1000), "kind": "prediction"}
	d := NewDigest("rule", "n", group, at(0), at(3600), events)
	set := newSet(t, nil)
	out := render(t, set, "slack.digest", false, Slack, d)
	if n := utf8.RuneCountInString(out); n > 40_000 {
		t.Errorf("slack.digest of 1000 events is %d characters, want at most 40,000", n)
	}
	for _, bad := range []string{"<!", "<@"} {
		if strings.Contains(out, bad) {
			t.Errorf("slack.digest contains %q", bad)
		}
	}
	if !strings.HasSuffix(out, "…and 990 more") {
		t.Errorf("slack.digest ends %q, want …and 990 more", out[max(0, len(out)-40):])
	}
	for _, name := range []string{"email.digest_text", "email.digest_html"} {
		out := render(t, set, name, name == "email.digest_html", None, d)
		if n := len(out); n > 200_000 {
			t.Errorf("%s of 1000 events is %d bytes, want at most 200,000", name, n)
		}
		if !strings.Contains(out, "…and 950 more") {
			t.Errorf("%s does not say …and 950 more", name)
		}
	}
}

// TestDigestSpan checks the time span of slack.digest: one time when first
// and last are the same minute, none when unknown.
func TestDigestSpan(t *testing.T) {
	set := newSet(t, nil)
	ev := &event{ID: "a", Status: "failed"}
	noon := time.Date(2025, 1, 1, 12, 1, 5, 0, time.FixedZone("X", 3600))
	tests := []struct {
		name        string
		first, last time.Time
		want        string
	}{
		{name: "span", first: noon, last: noon.Add(18 * time.Minute), want: "(11:01–11:19 UTC)"},
		{name: "same minute", first: noon, last: noon.Add(10 * time.Second), want: "(11:01 UTC)"},
		{name: "unknown", want: "❌ 1 failed\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, set, "slack.digest", false, Slack, NewDigest("r", "n", nil, tc.first, tc.last, []*event{ev}))
			if !strings.Contains(out, tc.want) {
				t.Errorf("slack.digest = %q, want it to contain %q", out, tc.want)
			}
		})
	}
}
