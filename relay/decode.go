package relay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"
)

// BadRequestError is a body intake cannot accept; its text is the reason
// given in the 400 answer.
type BadRequestError struct{ Reason string }

func (e *BadRequestError) Error() string { return e.Reason }

func badRequest(format string, args ...any) error {
	return &BadRequestError{Reason: fmt.Sprintf(format, args...)}
}

// wireEvent is the payload's known fields, each kept raw so that an
// unexpected type in one field never rejects the webhook (only id and status
// must be strings).
type wireEvent struct {
	ID          json.RawMessage `json:"id"`
	Status      json.RawMessage `json:"status"`
	Model       json.RawMessage `json:"model"`
	Version     json.RawMessage `json:"version"`
	Deployment  json.RawMessage `json:"deployment"`
	Source      json.RawMessage `json:"source"`
	Input       json.RawMessage `json:"input"`
	Output      json.RawMessage `json:"output"`
	Logs        json.RawMessage `json:"logs"`
	Error       json.RawMessage `json:"error"`
	CreatedAt   json.RawMessage `json:"created_at"`
	StartedAt   json.RawMessage `json:"started_at"`
	CompletedAt json.RawMessage `json:"completed_at"`
	Metrics     json.RawMessage `json:"metrics"`
	URLs        json.RawMessage `json:"urls"`
	Webhook     json.RawMessage `json:"webhook"`
}

// DecodeEvent checks and decodes a webhook body. query is the request URL's
// query; it becomes Event.Query and decides the kind when it has `kind`.
// Errors are *BadRequestError.
func DecodeEvent(body []byte, query url.Values, receivedAt time.Time) (*Event, error) {
	if err := checkJSON(body); err != nil {
		return nil, &BadRequestError{Reason: err.Error()}
	}
	var w wireEvent
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, badRequest("decode body: %v", err)
	}
	ev := &Event{ReceivedAt: receivedAt}
	var ok bool
	if ev.ID, ok = rawString(w.ID); !ok || ev.ID == "" {
		return nil, badRequest("body has no \"id\" string")
	}
	if ev.Status, ok = rawString(w.Status); !ok || ev.Status == "" {
		return nil, badRequest("body has no \"status\" string")
	}
	ev.Terminal = isTerminal(ev.Status)
	ev.Model, _ = rawString(w.Model)
	ev.Version, _ = rawString(w.Version)
	ev.Deployment, _ = rawString(w.Deployment)
	ev.Source, _ = rawString(w.Source)
	ev.Logs, _ = rawString(w.Logs)
	ev.Error = rawText(w.Error)
	ev.webhook, _ = rawString(w.Webhook)
	ev.CreatedAt = rawTime(w.CreatedAt)
	ev.StartedAt = rawTime(w.StartedAt)
	ev.CompletedAt = rawTime(w.CompletedAt)
	_ = json.Unmarshal(w.Input, &ev.Input)
	_ = json.Unmarshal(w.Output, &ev.Output)
	ev.Metrics = decodeMetrics(w.Metrics)
	ev.URLs = decodeURLs(w.URLs)
	ev.Query = firstValues(query)
	ev.Kind = detectKind(query.Get("kind"), ev.Output, ev.URLs.Get)
	return ev, nil
}

// rawString returns a JSON string's value; ok is false for any other type.
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// rawText is a string's value, "" for null or absent, and the JSON text of
// anything else (error may be an object).
func rawText(raw json.RawMessage) string {
	if s, ok := rawString(raw); ok {
		return s
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	return string(raw)
}

func rawTime(raw json.RawMessage) time.Time {
	s, ok := rawString(raw)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func decodeMetrics(raw json.RawMessage) Metrics {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Metrics{}
	}
	out := Metrics{}
	if v, ok := m["predict_time"].(float64); ok {
		out.PredictTime = v
		delete(m, "predict_time")
	}
	if v, ok := m["total_time"].(float64); ok {
		out.TotalTime = v
		delete(m, "total_time")
	}
	if len(m) > 0 {
		out.Extra = maps.Clone(m)
	}
	return out
}

func decodeURLs(raw json.RawMessage) URLs {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return URLs{}
	}
	var u URLs
	u.Web, _ = rawString(m["web"])
	u.Get, _ = rawString(m["get"])
	u.Cancel, _ = rawString(m["cancel"])
	u.Stream, _ = rawString(m["stream"])
	return u
}

func firstValues(q url.Values) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// detectKind decides prediction or training (DESIGN §4): ?kind= on the URL
// wins; then an output object with version and weights; then /trainings/ in
// urls.get; else prediction.
func detectKind(queryKind string, output any, getURL string) string {
	if queryKind == "training" || queryKind == "prediction" {
		return queryKind
	}
	if o, ok := output.(map[string]any); ok {
		_, v := o["version"]
		_, w := o["weights"]
		if v && w {
			return "training"
		}
	}
	if strings.Contains(getURL, "/trainings/") {
		return "training"
	}
	return "prediction"
}

// errQueryMismatch is returned when the request's query differs from the
// signed body's webhook URL query.
var errQueryMismatch = errors.New("query on the URL differs from the query of the signed body's \"webhook\" URL")

// checkQuery enforces that the unsigned request query equals the query of the
// signed body's webhook URL, when the body has one.
func checkQuery(ev *Event, query url.Values) error {
	if ev.webhook == "" {
		return nil
	}
	u, err := url.Parse(ev.webhook)
	if err != nil {
		return errQueryMismatch
	}
	signed, err := url.ParseQuery(u.RawQuery)
	if err != nil || !sameValues(signed, query) {
		return errQueryMismatch
	}
	return nil
}

func sameValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
	}
	return true
}
