package templates

import (
	"slices"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/replicate"
)

// event, metrics and urls are the replicate types every template's dot is
// made of.
type (
	event   = replicate.Event
	metrics = replicate.Metrics
	urls    = replicate.URLs
)

// at returns a fixed UTC time plus secs seconds.
func at(secs float64) time.Time {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(secs * float64(time.Second)))
}

// sampleEvents are the events the default templates are rendered against,
// by golden file name.
func sampleEvents() []struct {
	name string
	ev   event
} {
	const id = "r8p2kq5t9hrj00cm4x3z1w7v6e"
	urlsOf := func(id string) urls {
		return urls{
			Web:    "https://replicate.com/p/" + id,
			Get:    "https://api.replicate.com/v1/predictions/" + id,
			Cancel: "https://api.replicate.com/v1/predictions/" + id + "/cancel",
		}
	}
	return []struct {
		name string
		ev   event
	}{
		{name: "prediction_succeeded", ev: event{
			ID: id, Kind: "prediction", Status: "succeeded", Terminal: true,
			Model: "acme/upscaler", Version: "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa", Source: "api",
			Input: map[string]any{"image": "https://example.com/in.png", "scale": 4.0},
			Output: []any{
				"https://replicate.delivery/xezq/abc/out-0.png",
				"https://replicate.delivery/xezq/abc/out-1.png?sig=a&b=c",
				"data:image/png;base64,iVBORw0KGgo=",
				"https://replicate.delivery/xezq/abc/out-2.png",
				"https://replicate.delivery/xezq/abc/out-3.png",
				"https://replicate.delivery/xezq/abc/out-4.png",
			},
			Logs:      "loading\ndone\n",
			CreatedAt: at(0), StartedAt: at(1.5), CompletedAt: at(9.25),
			Metrics: metrics{PredictTime: 7.75, TotalTime: 9.25},
			URLs:    urlsOf(id),
			Query:   map[string]string{"customId": "batch-7"},
			Rule:    "all-predictions", Notifier: "ml-alerts", ReceivedAt: at(9.5),
		}},
		{name: "prediction_failed", ev: event{
			ID: "f41l3d", Kind: "prediction", Status: "failed", Terminal: true,
			Model: "acme/upscaler", Version: "hidden", Deployment: "acme/upscaler-prod",
			Input:     map[string]any{"prompt": "<!channel> look at <@U123>"},
			Logs:      logLines(25) + "Traceback (most recent call last):\n  File \"predict.py\", line 3\nRuntimeError: CUDA out of memory <!here>\n",
			Error:     "CUDA out of memory. Tried to allocate 2.00 GiB <http://evil.example|click> & more",
			CreatedAt: at(0), StartedAt: at(2), CompletedAt: at(85.5),
			URLs:  urls{Get: "https://api.replicate.com/v1/predictions/f41l3d"},
			Query: map[string]string{"customId": "batch-7", "kind": "prediction"},
			Rule:  "failed-batch-predictions", Notifier: "oncall", ReceivedAt: at(86),
		}},
		{name: "training_succeeded", ev: event{
			ID: "tr41n", Kind: "training", Status: "succeeded", Terminal: true,
			Model: "ostris/flux-dev-lora-trainer", Version: "e440909d3512c31646ee2e0c7d6f6f4923224863a6a10c494606e79fb5844497",
			Input:     map[string]any{"steps": 1000.0},
			Output:    map[string]any{"version": "acme/flux-acme:9a7b3c", "weights": "https://replicate.delivery/xezq/w/trained_model.tar"},
			Logs:      "step 1000/1000\n",
			CreatedAt: at(0), StartedAt: at(10), CompletedAt: at(10 + 2*3600 + 3*60 + 7),
			Metrics: metrics{PredictTime: 2*3600 + 3*60 + 7, TotalTime: 7400},
			URLs:    urlsOf("tr41n"),
			Query:   map[string]string{"kind": "training"},
			Rule:    "trainings-finished", Notifier: "ml-alerts", ReceivedAt: at(7400),
		}},
		{name: "prediction_processing", ev: event{
			ID: "pr0c3ss", Kind: "prediction", Status: "processing",
			Model: "acme/upscaler", Version: "hidden",
			Logs:      logLines(12) + "50%|█████     | 10/20 [00:05<00:05, 2.00it/s]\r",
			CreatedAt: at(0), StartedAt: at(1.5),
			URLs:  urlsOf("pr0c3ss"),
			Query: map[string]string{"customId": "batch-7"},
			Rule:  "live", Notifier: "ml-live", ReceivedAt: at(7),
		}},
		{name: "prediction_canceled", ev: event{
			ID: "c4nc3l", Kind: "prediction", Status: "canceled", Terminal: true,
			Model: "acme/llm", CreatedAt: at(0), StartedAt: at(1), CompletedAt: at(1.35),
			Output: []any{"Hello", " world"},
			URLs:   urlsOf("c4nc3l"),
		}},
		{name: "prediction_aborted", ev: event{
			ID: "4b0rt", Kind: "prediction", Status: "aborted", Terminal: true,
			Model: "acme/upscaler", Error: "deadline exceeded", CreatedAt: at(0), CompletedAt: at(300),
			URLs: urlsOf("4b0rt"),
		}},
		{name: "status_weird", ev: event{
			ID: "w31rd", Kind: "prediction", Status: "weird", Model: "acme/upscaler",
			Output: "https://replicate.delivery/xezq/single.webp",
			URLs:   urlsOf("w31rd"),
			Query:  map[string]string{"customId": "x\r\nBcc: evil@example.com"},
		}},
		{name: "empty", ev: event{}},
	}
}

// logLines returns n numbered log lines.
func logLines(n int) string {
	var s string
	for i := range n {
		s += "step " + string(rune('a'+i%26)) + "\n"
	}
	return s
}

// cmpSortStrings compares string slices as sets.
func cmpSortStrings() cmp.Option {
	return cmp.Transformer("sort", func(in []string) []string {
		out := slices.Clone(in)
		slices.Sort(out)
		return out
	})
}
