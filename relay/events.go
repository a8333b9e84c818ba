package relay

import (
	"sync"
	"time"

	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
)

// eventCacheSize is how many decoded webhooks the dispatcher keeps: enough
// for the jobs one webhook fans out to, sent at about the same time, to
// share one decoding, and small because an event may hold up to the bounds
// of package replicate.
const eventCacheSize = 16

// eventCache keeps the last few decoded webhooks, so that a webhook is
// decoded once for all its jobs, not once per job, even when they are sent
// at once: a decoding in progress is waited for, not repeated.
type eventCache struct {
	mu    sync.Mutex
	order []webhookKey // oldest first
	byKey map[webhookKey]*decoding
}

// webhookKey names one received webhook: every job it fanned out to has
// the same.
type webhookKey struct {
	webhookID, eventID, status string
	received                   time.Time
}

// decoding is one webhook's decoding, done once.
type decoding struct {
	once sync.Once
	ev   *replicate.Event
	err  error
}

// decode returns j's event, decoded from its stored body or taken from the
// cache, as a copy the caller may set Rule and Notifier on.
func (c *eventCache) decode(j store.Job) (*replicate.Event, error) {
	d := c.entry(webhookKey{j.WebhookID, j.EventID, j.Status, j.ReceivedAt})
	d.once.Do(func() {
		d.ev, d.err = replicate.DecodeStored(j.Body, replicate.ParseQuery(j.Query), j.ReceivedAt)
	})
	if d.err != nil {
		return nil, d.err
	}
	cp := *d.ev // the maps are shared and read only; Raw decodes once for all copies
	return &cp, nil
}

// entry returns the decoding of k, adding it (and dropping the oldest)
// when it is not kept.
func (c *eventCache) entry(k webhookKey) *decoding {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.byKey[k]; ok {
		return d
	}
	if c.byKey == nil {
		c.byKey = make(map[webhookKey]*decoding, eventCacheSize)
	}
	if len(c.order) == eventCacheSize {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	d := &decoding{}
	c.order = append(c.order, k)
	c.byKey[k] = d
	return d
}
