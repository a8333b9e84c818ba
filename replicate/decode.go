package replicate

import (
	"bytes"
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

// Limits on the strings that key dedupe records: Replicate's ids are 26
// characters, its statuses one word.
const (
	maxEventIDLen = 1024
	maxStatusLen  = 64
)

// Decode checks and decodes a webhook body completely, as templates see it.
// query is the request URL's query; it becomes Event.Query and decides the
// kind when it has `kind`. Errors are *BadRequestError.
func Decode(body []byte, query url.Values, receivedAt time.Time) (*Event, error) {
	return decode(body, query, receivedAt, true)
}

// DecodePartial is Decode in the same single checking pass, but it leaves
// out what only templates and `when` expressions read (input, output, logs,
// error, metrics, times, the raw map): intake decodes only what matching
// needs, and delivery decodes the rest from the stored bytes.
func DecodePartial(body []byte, query url.Values, receivedAt time.Time) (*Event, error) {
	return decode(body, query, receivedAt, false)
}

// DecodeStored is Decode for a body that passed Decode or DecodePartial
// at intake and was stored since: it finds the top-level members in one
// fast pass without checking the JSON again (the strict check, duplicate
// keys included, costs the most on a hostile but valid body), and decodes
// them within the bounds. A body it cannot read is an error, as with
// Decode.
func DecodeStored(body []byte, query url.Values, receivedAt time.Time) (*Event, error) {
	var top topFields
	if !scanTopFields(body, &top) {
		return Decode(body, query, receivedAt) // not what intake stored: check it
	}
	return decodeTop(body, &top, query, receivedAt, true)
}

func decode(body []byte, query url.Values, receivedAt time.Time, full bool) (*Event, error) {
	var top topFields
	if err := checkJSONFields(body, &top); err != nil {
		return nil, &BadRequestError{Reason: err.Error()}
	}
	return decodeTop(body, &top, query, receivedAt, full)
}

// decodeTop builds the event from the top-level members of a body.
func decodeTop(body []byte, top *topFields, query url.Values, receivedAt time.Time, full bool) (*Event, error) {
	ev := &Event{ReceivedAt: receivedAt}
	var ok bool
	if ev.ID, ok = top.str(fID); !ok || ev.ID == "" {
		return nil, badRequest("body has no \"id\" string")
	}
	if ev.Status, ok = top.str(fStatus); !ok || ev.Status == "" {
		return nil, badRequest("body has no \"status\" string")
	}
	if len(ev.ID) > maxEventIDLen || len(ev.Status) > maxStatusLen {
		return nil, badRequest("\"id\" longer than %d bytes or \"status\" longer than %d", maxEventIDLen, maxStatusLen)
	}
	ev.Terminal = IsTerminal(ev.Status)
	ev.Model = top.short(fModel)
	ev.Version = top.short(fVersion)
	ev.Deployment = top.short(fDeployment)
	ev.Source = top.short(fSource)
	ev.webhook, _ = top.str(fWebhook)
	ev.Query = firstValues(query)
	if full {
		ev.CreatedAt = top.time(fCreatedAt)
		ev.StartedAt = top.time(fStartedAt)
		ev.CompletedAt = top.time(fCompletedAt)
		ev.Logs = tailString(top.text(fLogs), maxLogs)
		ev.Error = cutString(top.text(fError), maxError)
		ev.Input, _ = boundedValue(top.raw[fInput]).(map[string]any)
		ev.Output = boundedValue(top.raw[fOutput])
		ev.raw = &rawMap{body: body}
		ev.Metrics = decodeMetrics(top.raw[fMetrics])
		ev.URLs = decodeURLs(top.raw[fURLs])
		ev.Kind = detectKind(query.Get("kind"), objectHasKeys(top.raw[fOutput], "version", "weights"), ev.URLs.Get)
		return ev, nil
	}
	ev.Kind = query.Get("kind")
	if ev.Kind != "training" && ev.Kind != "prediction" {
		// Only a training's urls mention /trainings/: decode them just then.
		if bytes.Contains(top.raw[fURLs], []byte("/trainings/")) {
			ev.URLs = decodeURLs(top.raw[fURLs])
		}
		ev.Kind = detectKind("", objectHasKeys(top.raw[fOutput], "version", "weights"), ev.URLs.Get)
	}
	return ev, nil
}

func decodeMetrics(raw []byte) Metrics {
	m, ok := boundedValue(raw).(map[string]any)
	if !ok {
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

func decodeURLs(raw []byte) URLs {
	m, ok := boundedValue(raw).(map[string]any)
	if !ok {
		return URLs{}
	}
	s := func(k string) string { v, _ := m[k].(string); return v }
	return URLs{Web: s("web"), Get: s("get"), Cancel: s("cancel"), Stream: s("stream")}
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
func detectKind(queryKind string, trainingOutput bool, getURL string) string {
	if queryKind == "training" || queryKind == "prediction" {
		return queryKind
	}
	if trainingOutput {
		return "training"
	}
	if strings.Contains(getURL, "/trainings/") {
		return "training"
	}
	return "prediction"
}

// ErrQueryMismatch is returned when the request's query differs from the
// signed body's webhook URL query.
var ErrQueryMismatch = errors.New("query on the URL differs from the query of the signed body's \"webhook\" URL")

// CheckQuery enforces that the unsigned request query (as ParseQuery reads
// it) equals the query of the signed body's webhook URL, when the body has
// one.
func CheckQuery(ev *Event, query url.Values) error {
	if ev.webhook == "" {
		return nil
	}
	u, err := url.Parse(ev.webhook)
	if err != nil {
		return ErrQueryMismatch
	}
	if !sameValues(ParseQuery(u.RawQuery), query) {
		return ErrQueryMismatch
	}
	return nil
}

// ParseQuery parses a raw URL query the way net/http's Request.URL.Query
// does: pairs that do not parse (a bad %-escape, a ';') are dropped rather
// than failing the whole query. Intake matches rules on these values and
// delivery renders them from the stored raw query, so both must parse alike;
// CheckQuery compares such values too, so a dropped pair can route nothing.
func ParseQuery(raw string) url.Values {
	v, _ := url.ParseQuery(raw) // the error only reports the pairs dropped
	return v
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
