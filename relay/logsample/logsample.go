// Package logsample keeps the log of a flood short: up to PerSecond
// webhooks a second get a line of their own, and the rest of each second is
// summed up in one line when it is over. It imports nothing of hooknote.
package logsample

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PerSecond is how many webhooks a second get a log line of their
// own; beyond it, the rest of the second is counted and summed up in one
// line when the second is over (the counts are in metrics too). A burst of
// thousands of webhooks a second, or a flood of bad signatures, then costs
// a few log lines, not thousands.
const PerSecond = 100

// Window decides which webhooks get a line of their own; its zero value
// is ready for use.
type Window struct {
	mu      sync.Mutex
	second  int64          // unix second of the window
	logged  int            // lines written in it
	skipped map[string]int // result → webhooks not logged in it
}

// Admit reports whether a webhook received at now gets a line of its own,
// and returns the summary of the last window when a new one begins.
func (l *Window) Admit(now time.Time, result string) (ok bool, summary string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.second {
		summary = l.summary()
		l.second, l.logged, l.skipped = sec, 0, nil
	}
	if l.logged < PerSecond {
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
func (l *Window) summary() string {
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
