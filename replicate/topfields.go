package replicate

import (
	"bytes"
	"encoding/json"
	"time"
)

// topNames are the top-level payload members intake reads.
var topNames = [...]string{
	"id", "status", "model", "version", "deployment", "source", "input", "output",
	"logs", "error", "created_at", "started_at", "completed_at", "metrics", "urls", "webhook",
}

const (
	fID = iota
	fStatus
	fModel
	fVersion
	fDeployment
	fSource
	fInput
	fOutput
	fLogs
	fError
	fCreatedAt
	fStartedAt
	fCompletedAt
	fMetrics
	fURLs
	fWebhook
)

// topFields are the raw JSON values of the topNames members of a body
// (nil when absent), slices of the body itself.
type topFields struct {
	raw [len(topNames)][]byte
}

// topIndex returns the topNames index of key, or -1.
func topIndex(key []byte) int {
	for i, n := range topNames {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// str returns a member's string value; ok is false for any other type. The
// body was checked (valid UTF-8, valid escapes), so an escape-free string is
// its own value.
func (t *topFields) str(i int) (string, bool) {
	raw := t.raw[i]
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// text is a string's value, "" for null or absent, and the JSON text of
// anything else (error may be an object).
func (t *topFields) text(i int) string {
	if s, ok := t.str(i); ok {
		return s
	}
	if raw := t.raw[i]; len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		return string(raw)
	}
	return ""
}

// short is a string member cut to maxShort bytes: a name, never a text.
func (t *topFields) short(i int) string {
	s, _ := t.str(i)
	return cutString(s, maxShort)
}

func (t *topFields) time(i int) time.Time {
	s, ok := t.str(i)
	if !ok {
		return time.Time{}
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return tm
}

// scanTopFields records the top-level members of body, an object that
// checkJSON accepted before (duplicate keys and all), without checking it
// again. It reports false for anything that does not even look like an
// object, so that the caller can fall back to the strict path.
func scanTopFields(body []byte, top *topFields) bool {
	d := boundedDecoder{b: body}
	d.space()
	if d.i >= len(body) || body[d.i] != '{' {
		return false
	}
	ok := true
	func() {
		defer func() {
			if recover() != nil { // an index out of range: not a checked body
				ok = false
			}
		}()
		d.members(func(key string) {
			d.space()
			start := d.i
			d.skip()
			if f := topIndex([]byte(key)); f >= 0 && top.raw[f] == nil {
				top.raw[f] = body[start:d.i]
			}
		})
	}()
	return ok
}
