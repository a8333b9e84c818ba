package replicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecodeEvent feeds Decode hostile bodies and queries. It must never
// panic; it returns an event or a *BadRequestError, never both; DecodeStored
// reads an accepted body as Decode did; an accepted
// body is one JSON object whose "id" and "status" (matched the way
// encoding/json matches field names) are the non-empty strings the event
// holds, so no other JSON parser can read a different event from it; and
// checkQuery on an accepted event answers nil or ErrQueryMismatch. The seed
// corpus (testdata/fuzz/FuzzDecodeEvent) holds every webhook sample with
// its query, and hostile bodies.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"id":"a","status":"failed"}`), "customId=7&kind=training")
	f.Add([]byte(`{"id":"a","status":"failed","webhook":"https://h/x?customId=%zz"}`), "customId=%zz")
	f.Add([]byte(`{"ID":"a","Status":"x","webhook":"::"}`), ";;&&=")
	received := time.Unix(1735689600, 0).UTC()
	f.Fuzz(func(t *testing.T, body []byte, rawQuery string) {
		query, _ := url.ParseQuery(rawQuery) // the server's req.URL.Query() drops what does not parse, too
		ev, err := Decode(body, query, received)
		if (ev == nil) == (err == nil) {
			t.Fatalf("Decode(%.200q, %q) = %v, %v, want an event xor an error", body, rawQuery, ev, err)
		}
		if err != nil {
			var bre *BadRequestError
			if !errors.As(err, &bre) || bre.Reason == "" {
				t.Fatalf("Decode(%.200q) = %#v, want a *BadRequestError with a reason", body, err)
			}
			return
		}
		checkDecoded(t, body, query, ev)
		stored, err := DecodeStored(body, query, received)
		if err != nil {
			t.Fatalf("DecodeStored(%.200q) = %v after Decode accepted it", body, err)
		}
		if diff := cmp.Diff(ev, stored, cmp.AllowUnexported(Event{}), cmpopts.IgnoreFields(Event{}, "raw"), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("DecodeStored(%.200q) disagrees with Decode (-want +got):\n%s", body, diff)
		}
		if qerr := CheckQuery(ev, query); qerr != nil && !errors.Is(qerr, ErrQueryMismatch) {
			t.Fatalf("CheckQuery(%q, %q) = %v, want nil or ErrQueryMismatch", ev.webhook, rawQuery, qerr)
		}
	})
}

// checkDecoded checks an accepted body against a generic decode.
func checkDecoded(t *testing.T, body []byte, query url.Values, ev *Event) {
	t.Helper()
	if ev.ID == "" || ev.Status == "" {
		t.Fatalf("Decode(%.200q) = ID %q, Status %q, want both non-empty", body, ev.ID, ev.Status)
	}
	if ev.Kind != "prediction" && ev.Kind != "training" {
		t.Fatalf("Decode(%.200q).Kind = %q, want prediction or training", body, ev.Kind)
	}
	if ev.Terminal != IsTerminal(ev.Status) {
		t.Fatalf("Decode(%.200q).Terminal = %v for status %q", body, ev.Terminal, ev.Status)
	}
	if k := query.Get("kind"); (k == "training" || k == "prediction") && ev.Kind != k {
		t.Fatalf("DecodeEvent with ?kind=%s: Kind = %q", k, ev.Kind)
	}
	for k, v := range ev.Query {
		if len(query[k]) == 0 || query[k][0] != v {
			t.Fatalf("DecodeEvent: Query[%q] = %q, want the first value of %q", k, v, query[k])
		}
	}
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // 1e999 is valid JSON, not a float64
	if err := dec.Decode(&generic); err != nil {
		t.Fatalf("DecodeEvent accepted %.200q, which encoding/json rejects: %v", body, err)
	}
	for field, want := range map[string]string{"id": ev.ID, "status": ev.Status} {
		var found []any
		for k, v := range generic {
			if strings.EqualFold(k, field) || foldsTo(k, field) {
				found = append(found, v)
			}
		}
		if len(found) != 1 || found[0] != want {
			t.Fatalf("Decode(%.200q).%s = %q, but the body's keys matching %q hold %q", body, field, want, field, found)
		}
	}
}

// foldsTo reports whether encoding/json would match key to the field name
// (its matching folds the long s and the Kelvin sign too).
func foldsTo(key, field string) bool {
	r := strings.NewReplacer("ſ", "s", "K", "k")
	return strings.EqualFold(r.Replace(key), field)
}
