package templates

import "github.com/hooknote/hooknote/replicate"

// rfc3339 is how payload prints times.
const rfc3339 = "2006-01-02T15:04:05.999999999Z07:00"

// payload returns an event's fields as the default webhook body sends them
// (webhook.body: {{ json (payload .) }}), built without a template call per
// field: id, kind, status, terminal, model, version, deployment, source,
// input, output, error, created_at, started_at, completed_at, metrics
// (predict_time, total_time, extra), urls (web, get), query, rule, notifier
// and received_at; an absent time or optional string is null. Anything but
// an event gives nil.
func payload(v any) map[string]any {
	var ev *replicate.Event
	switch x := v.(type) {
	case *replicate.Event:
		ev = x
	case replicate.Event:
		ev = &x
	}
	if ev == nil {
		return nil
	}
	return map[string]any{
		"id":           ev.ID,
		"kind":         ev.Kind,
		"status":       ev.Status,
		"terminal":     ev.Terminal,
		"model":        ev.Model,
		"version":      ev.Version,
		"deployment":   orNil(ev.Deployment),
		"source":       orNil(ev.Source),
		"input":        ev.Input,
		"output":       ev.Output,
		"error":        orNil(ev.Error),
		"created_at":   orNil(formatTime(rfc3339, ev.CreatedAt)),
		"started_at":   orNil(formatTime(rfc3339, ev.StartedAt)),
		"completed_at": orNil(formatTime(rfc3339, ev.CompletedAt)),
		"metrics": map[string]any{
			"predict_time": ev.Metrics.PredictTime,
			"total_time":   ev.Metrics.TotalTime,
			"extra":        ev.Metrics.Extra,
		},
		"urls":        map[string]any{"web": orNil(ev.URLs.Web), "get": orNil(ev.URLs.Get)},
		"query":       ev.Query,
		"rule":        ev.Rule,
		"notifier":    ev.Notifier,
		"received_at": orNil(formatTime(rfc3339, ev.ReceivedAt)),
	}
}

// orNil is s, or nil (JSON null) when s is empty.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
