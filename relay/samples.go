package relay

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
)

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
		q, err := SampleQuery(body)
		if err != nil {
			return nil, fmt.Errorf("sample %q: %w", name, err)
		}
		out = append(out, Sample{Name: path.Base(name), Body: body, Query: q})
	}
	return out, nil
}

// SampleQuery returns the query of a body's "webhook" URL: the query
// Replicate calls back with.
func SampleQuery(body []byte) (string, error) {
	var w struct {
		Webhook string `json:"webhook"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return "", err
	}
	u, err := url.Parse(w.Webhook)
	if err != nil {
		return "", err
	}
	return u.RawQuery, nil
}
