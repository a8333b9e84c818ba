package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetrics scrapes /metrics after a small scenario and checks the
// counters; /metrics is absent from the intake listener.
func TestMetrics(t *testing.T) {
	e := newRelayEnv(t, "127.0.0.1:0")
	d := startBinary(t, e.config, e.env...)
	training := sample(t, "training-succeeded.json")
	d.post(t, training, trainingQuery, "msg_m1")                                    // accepted
	d.post(t, training, trainingQuery, "msg_m1")                                    // duplicate
	d.post(t, sample(t, "prediction-succeeded.json"), "customId=batch-7", "msg_m2") // unmatched
	d.post(t, []byte(`[1]`), "", "msg_m3")                                          // bad_request
	req, _ := http.NewRequest(http.MethodPost, d.intake, strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req) // bad_signature (no headers)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, "the delivery", 10*time.Second, func() bool { return len(e.slack.delivered()) == 1 })

	var m string
	want := []string{
		`hooknote_webhooks_received_total{result="accepted"} 1`,
		`hooknote_webhooks_received_total{result="duplicate"} 1`,
		`hooknote_webhooks_received_total{result="unmatched"} 1`,
		`hooknote_webhooks_received_total{result="bad_request"} 1`,
		`hooknote_webhooks_received_total{result="bad_signature"} 1`,
		`hooknote_webhooks_received_total{result="too_large"} 0`,
		`hooknote_notifications_total{notifier="slack",reason="none",result="delivered"} 1`,
		`hooknote_queue_depth 0`,
		`hooknote_dead_letters 0`,
		`hooknote_ack_duration_seconds_count 5`,
		`hooknote_delivery_duration_seconds_count{notifier="slack"} 1`,
		`hooknote_end_to_end_seconds_count{notifier="slack"} 1`,
		`hooknote_config_last_reload_successful 1`,
	}
	eventually(t, "metrics to settle", 5*time.Second, func() bool {
		m = scrape(t, d.admin+"/metrics")
		return strings.Contains(m, `hooknote_queue_depth 0`) && strings.Contains(m, `result="delivered"} 1`)
	})
	for _, w := range want {
		if !strings.Contains(m, w+"\n") {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	intakeBase := strings.TrimSuffix(d.intake, "/webhooks/replicate")
	for _, path := range []string{"/metrics", "/dead", "/readyz"} {
		resp, err := http.Get(intakeBase + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("intake GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		scrape(t, d.admin+path)
	}
	scrape(t, intakeBase+"/healthz")
}
