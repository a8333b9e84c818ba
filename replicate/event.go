package replicate

import (
	"sync"
	"time"
)

// Event is one Replicate webhook as rules and templates see it (DESIGN §4):
// the template's dot.
type Event struct {
	ID       string // the prediction or training id
	Kind     string // "prediction" or "training"
	Status   string // starting, processing, succeeded, failed, canceled, aborted, or anything new
	Terminal bool   // whether Status is final

	Model      string // owner/name
	Version    string // a version id, or "hidden"
	Deployment string // owner/name of the deployment, when created through one
	Source     string // "web" or "api", when sent

	Input  map[string]any // as sent
	Output any            // any JSON value
	Logs   string
	Error  string // the error message (non-string errors as their JSON text)

	CreatedAt   time.Time // zero when absent
	StartedAt   time.Time
	CompletedAt time.Time

	Metrics Metrics
	URLs    URLs

	Query map[string]string // the webhook URL's query parameters (first value of each)

	Rule       string    // the rule that matched (set when rendering)
	Notifier   string    // the notifier being rendered for (set when rendering)
	ReceivedAt time.Time // when intake received the webhook

	webhook string  // the signed body's webhook URL, when present
	raw     *rawMap // the body, decoded for Raw on first use; shared by copies
}

// rawMap is the body decoded as a map on first use, once even when copies
// of an event are rendered concurrently.
type rawMap struct {
	body []byte
	once sync.Once
	m    map[string]any
}

// Raw returns the whole body as a map, for anything not listed: in a
// template {{ .Raw.some_field }}, in a `when` expression Raw().some_field.
// It is decoded on first use, bounded like the rest of the event.
func (e *Event) Raw() map[string]any {
	if e.raw == nil {
		return nil
	}
	e.raw.once.Do(func() { e.raw.m, _ = boundedValue(e.raw.body).(map[string]any) })
	return e.raw.m
}

// Metrics are the payload's metrics, in seconds.
type Metrics struct {
	PredictTime float64
	TotalTime   float64
	Extra       map[string]any // every other metric (token counts, time_to_first_token, …)
}

// URLs are the payload's links.
type URLs struct {
	Web    string
	Get    string
	Cancel string
	Stream string
}
