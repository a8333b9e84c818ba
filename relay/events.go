package relay

import (
	"sync"
	"time"

	"github.com/hooknote/hooknote/replicate"
	"github.com/hooknote/hooknote/store"
)

// eventCacheSize is how many decoded webhooks the dispatcher keeps: enough
// for the jobs one webhook fans out to, claimed together, to share one
// decoding, and small because an event may hold up to the bounds of
// package replicate.
const eventCacheSize = 16

// eventCache keeps the last few decoded webhooks, so that a webhook is
// decoded once for all its jobs, not once per job.
type eventCache struct {
	mu    sync.Mutex
	order []webhookKey // oldest first
	byKey map[webhookKey]*replicate.Event
}

// webhookKey names one received webhook: every job it fanned out to has
// the same.
type webhookKey struct {
	webhookID, eventID, status string
	received                   time.Time
}

// decode returns j's event, decoded from its stored body or taken from the
// cache, as a copy the caller may set Rule and Notifier on.
func (c *eventCache) decode(j store.Job) (*replicate.Event, error) {
	k := webhookKey{j.WebhookID, j.EventID, j.Status, j.ReceivedAt}
	c.mu.Lock()
	ev, ok := c.byKey[k]
	c.mu.Unlock()
	if !ok {
		var err error
		ev, err = replicate.Decode(j.Body, replicate.ParseQuery(j.Query), j.ReceivedAt)
		if err != nil {
			return nil, err
		}
		c.add(k, ev)
	}
	cp := *ev // the maps are shared and read only; Raw decodes once for all copies
	return &cp, nil
}

func (c *eventCache) add(k webhookKey, ev *replicate.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = make(map[webhookKey]*replicate.Event, eventCacheSize)
	}
	if _, ok := c.byKey[k]; ok {
		return
	}
	if len(c.order) == eventCacheSize {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, k)
	c.byKey[k] = ev
}
