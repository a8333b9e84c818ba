package relay

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// webhookLogPerSecond is how many webhooks a second get a log line of their
// own; beyond it, the rest of the second is counted and summed up in one
// line when the second is over (the counts are in metrics too). A burst of
// thousands of webhooks a second, or a flood of bad signatures, then costs
// a few log lines, not thousands.
const webhookLogPerSecond = 100

// webhookLog decides which webhooks get a line and writes the summaries.
type webhookLog struct {
	mu      sync.Mutex
	second  int64          // unix second of the window
	logged  int            // lines written in it
	skipped map[string]int // result → webhooks not logged in it
}

// admit reports whether a webhook received at now gets a line of its own,
// and returns the summary of the last window when a new one begins.
func (l *webhookLog) admit(now time.Time, result string) (ok bool, summary string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.second {
		summary = l.summary()
		l.second, l.logged, l.skipped = sec, 0, nil
	}
	if l.logged < webhookLogPerSecond {
		l.logged++
		return true, summary
	}
	if l.skipped == nil {
		l.skipped = map[string]int{}
	}
	l.skipped[result]++
	return false, summary
}

// summary describes the webhooks not logged in the window, "" for none.
func (l *webhookLog) summary() string {
	if len(l.skipped) == 0 {
		return ""
	}
	results := make([]string, 0, len(l.skipped))
	for r := range l.skipped {
		results = append(results, r)
	}
	sort.Strings(results)
	var b strings.Builder
	for i, r := range results {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r + "=" + strconv.Itoa(l.skipped[r]))
	}
	return b.String()
}

// logWebhook writes the line of one webhook, or counts it when the second
// has had its share.
func (r *Relay) logWebhook(ctx context.Context, now time.Time, level slog.Level, result string, attrs []slog.Attr) {
	ok, summary := r.webhookLog.admit(now, result)
	if summary != "" {
		r.log.LogAttrs(ctx, slog.LevelInfo, "webhooks not logged one by one (more than 100 in a second)", slog.String("results", summary))
	}
	if ok {
		r.log.LogAttrs(ctx, level, "webhook", attrs...)
	}
}
