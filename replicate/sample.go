package replicate

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
)

// Sample is a webhook body with the query Replicate would call back with:
// every template is rendered against the samples at load, and the demo sends
// them.
type Sample struct {
	Name  string
	Body  []byte
	Query string
}

// SamplesFromFS reads every *.json file of fsys's root as a Sample. Each
// sample's query is taken from the body's "webhook" URL, as Replicate would
// call back with it.
func SamplesFromFS(fsys fs.FS) ([]Sample, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read sample: %w", err)
		}
		q, err := WebhookQuery(body)
		if err != nil {
			return nil, fmt.Errorf("sample %q: %w", name, err)
		}
		out = append(out, Sample{Name: path.Base(name), Body: body, Query: q})
	}
	return out, nil
}

// WebhookQuery returns the query of a body's "webhook" URL: the query
// Replicate calls back with.
func WebhookQuery(body []byte) (string, error) {
	var w struct {
		Webhook string `json:"webhook"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return "", fmt.Errorf("decode webhook url: %w", err)
	}
	u, err := url.Parse(w.Webhook)
	if err != nil {
		return "", err
	}
	return u.RawQuery, nil
}
