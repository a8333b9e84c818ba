package replicate

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// BenchmarkDecodeEvent decodes a 1.9 KB succeeded prediction as intake does
// (check + only what matching needs) and completely, as the dispatcher does
// before rendering.
func BenchmarkDecodeEvent(b *testing.B) {
	body := body19K(b) // a succeeded prediction
	q := url.Values{"customId": {"batch-7"}}
	now := time.Unix(1735689600, 0)
	for _, full := range []bool{false, true} {
		name := "intake"
		if full {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := decode(body, q, now, full); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// plainPrediction is the struct bench/baseline's verify mode decodes into.
type plainPrediction struct {
	ID, Model, Version, Deployment, Source, Logs, Status, Webhook string
	Input                                                         map[string]any
	Output, Error                                                 any
	CreatedAt                                                     time.Time  `json:"created_at"`
	StartedAt                                                     *time.Time `json:"started_at"`
	CompletedAt                                                   *time.Time `json:"completed_at"`
	URLs                                                          struct{ Get, Cancel, Web, Stream string }
	Metrics                                                       map[string]float64
}

// BenchmarkDecodePlain is the reference for BenchmarkDecodeEvent: one
// encoding/json decode of the same body into a plain struct, as the verify
// baseline server does.
func BenchmarkDecodePlain(b *testing.B) {
	body := body19K(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var p plainPrediction
		if err := json.Unmarshal(body, &p); err != nil || p.ID == "" {
			b.Fatal(err)
		}
	}
}
