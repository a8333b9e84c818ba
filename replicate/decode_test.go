package replicate

import (
	"errors"
	"net/url"
	"os"
	"testing"
	"time"
)

func TestDetectKind(t *testing.T) {
	training := `{"version": "acme/x:1", "weights": "https://w"}`
	cases := []struct {
		name      string
		queryKind string
		output    string
		get       string
		want      string
	}{
		{name: "query wins over output", queryKind: "prediction", output: training, want: "prediction"},
		{name: "query training", queryKind: "training", want: "training"},
		{name: "bad query kind ignored", queryKind: "bogus", want: "prediction"},
		{name: "output version+weights", output: training, want: "training"},
		{name: "output version only", output: `{"version": "x"}`, want: "prediction"},
		{name: "output list", output: `["https://x"]`, want: "prediction"},
		{name: "urls.get trainings", get: "https://api.replicate.com/v1/trainings/abc", want: "training"},
		{name: "urls.get predictions", get: "https://api.replicate.com/v1/predictions/abc", want: "prediction"},
		{name: "nothing", want: "prediction"},
	}
	for _, tc := range cases {
		if got := detectKind(tc.queryKind, objectHasKeys([]byte(tc.output), "version", "weights"), tc.get); got != tc.want {
			t.Errorf("%s: detectKind(%q, %s, %q) = %q, want %q", tc.name, tc.queryKind, tc.output, tc.get, got, tc.want)
		}
	}
}

func TestDecodeEventErrors(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{body: `{"status":"failed"}`, want: `body has no "id" string`},
		{body: `{"id":7,"status":"failed"}`, want: `body has no "id" string`},
		{body: `{"id":"a"}`, want: `body has no "status" string`},
		{body: `{"id":"a","status":3}`, want: `body has no "status" string`},
		{body: `{"id":"a","status":""}`, want: `body has no "status" string`},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.body), nil, time.Now())
		var bre *BadRequestError
		if !errors.As(err, &bre) || err.Error() != tc.want {
			t.Errorf("Decode(%s) = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestDecodeEventTolerant(t *testing.T) {
	body := `{"id":"a","status":"brand-new","model":5,"error":{"code":1},"metrics":{"predict_time":1.5,"tokens":3},"created_at":"bad","started_at":"2025-01-01T00:00:01.123456789Z","urls":[],"extra":{"x":1}}`
	ev, err := Decode([]byte(body), url.Values{"customId": {"7", "8"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != "brand-new" || !ev.Terminal || ev.Model != "" || ev.Error != `{"code":1}` || ev.Metrics.PredictTime != 1.5 ||
		ev.Metrics.Extra["tokens"] != 3.0 || !ev.CreatedAt.IsZero() || ev.StartedAt.Nanosecond() != 123456789 || ev.Query["customId"] != "7" {
		t.Errorf("DecodeEvent = %+v", ev)
	}
}

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		webhook, query string
		ok             bool
	}{
		{webhook: "", query: "customId=1", ok: true},
		{webhook: "https://h/x?customId=1&kind=training", query: "kind=training&customId=1", ok: true},
		{webhook: "https://h/x?customId=1", query: "customId=2", ok: false},
		{webhook: "https://h/x?customId=1", query: "customId=1&extra=1", ok: false},
		{webhook: "https://h/x", query: "", ok: true},
		{webhook: "https://h/x", query: "customId=1", ok: false},
		{webhook: "https://h/x?a=1&a=2", query: "a=2&a=1", ok: false},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		err := CheckQuery(&Event{webhook: tc.webhook}, q)
		if (err == nil) != tc.ok {
			t.Errorf("CheckQuery(webhook %q, query %q) = %v, want ok=%v", tc.webhook, tc.query, err, tc.ok)
		}
	}
}

// TestIntakeDecodeAgrees: intake's partial decode agrees with the full one
// on everything matching reads, for every sample.
func TestIntakeDecodeAgrees(t *testing.T) {
	samples, err := SamplesFromFS(os.DirFS("../testdata/samples"))
	if err != nil || len(samples) == 0 {
		t.Fatal(samples, err)
	}
	for _, s := range samples {
		for _, query := range []string{s.Query, "", "kind=prediction"} {
			q, _ := url.ParseQuery(query)
			full, err := Decode(s.Body, q, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			part, err := DecodePartial(s.Body, q, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if full.ID != part.ID || full.Status != part.Status || full.Kind != part.Kind || full.Model != part.Model ||
				full.Deployment != part.Deployment || full.webhook != part.webhook {
				t.Errorf("%s ?%s: partial decode %+v disagrees with full %+v", s.Name, query, part, full)
			}
			if full.Raw()["id"] != full.ID {
				t.Errorf("%s: Raw not decoded: %v", s.Name, full.Raw())
			}
		}
	}
}
