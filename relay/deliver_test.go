package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hooknote/hooknote/relay/retry"
)

// TestSendErrorTimeout: a send cut off at the notifier's timeout is a
// timeout (the reason label of hooknote_notifications_total) whatever the
// notifier's library returned, and its error names the timeout once; a
// send cut short by shutdown is interrupted.
func TestSendErrorTimeout(t *testing.T) {
	ctx := context.Background()
	sctx, cancel := context.WithTimeoutCause(ctx, time.Nanosecond, timeoutError{10 * time.Second})
	defer cancel()
	<-sctx.Done()
	for _, sent := range []error{
		errors.New("smtp: read tcp 127.0.0.1:25: i/o timeout"), // the chain lost
		fmt.Errorf("post: %w", context.DeadlineExceeded),
	} {
		err := sendError(ctx, sctx, sent)
		if got := retry.ReasonLabel(err); got != "timeout" {
			t.Errorf("reason of %q = %s, want timeout", err, got)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "send took longer than the notifier's timeout 10s: ") || strings.Count(msg, "timeout 10s") != 1 {
			t.Errorf("error %q, want the timeout named once, then the send's error", msg)
		}
	}
	stopped, stop := context.WithCancel(ctx)
	stop()
	if got := retry.ReasonLabel(sendError(stopped, stopped, context.Canceled)); got != "interrupted" {
		t.Errorf("reason of a send cut by shutdown = %s, want interrupted", got)
	}
}
