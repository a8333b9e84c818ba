package replicate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestBoundedValueAgrees: within its bounds, boundedValue decodes exactly
// what encoding/json decodes.
func TestBoundedValueAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	docs := [][]byte{vectorB(t), body19K(t), []byte(vecCBodyUTF8), []byte(vecCBodyEscaped),
		[]byte(`{"a":[1,-2.5e3,true,null,{"b":"\u00e9\ud83d\ude00","c":[]},{}], "d" : "x\"y"}`)}
	for range 500 {
		docs = append(docs, genJSON(r, 0))
	}
	for _, b := range docs {
		var want any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("json.Unmarshal(%.200q) = %v", b, err)
		}
		if diff := cmp.Diff(want, boundedValue(b)); diff != "" {
			t.Fatalf("boundedValue(%.200q) disagrees with encoding/json (-want +got):\n%s", b, diff)
		}
	}
}

// TestBoundedValueLimits: a hostile but valid value keeps at most maxNodes
// values and maxString bytes per string, and a cut is marked.
func TestBoundedValueLimits(t *testing.T) {
	var many bytes.Buffer
	many.WriteString(`{"list":[`)
	for i := range 3 * maxNodes {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"k%d":"https://x.example/%d.png"}`, i, i)
	}
	many.WriteString(`],"after":1}`)
	if err := checkJSON(many.Bytes()); err != nil {
		t.Fatal(err)
	}
	v := boundedValue(many.Bytes()).(map[string]any)
	list := v["list"].([]any)
	if n := countNodes(v); n > maxNodes {
		t.Errorf("kept %d values, want at most %d", n, maxNodes)
	}
	if last := list[len(list)-1]; last != ellipsis {
		t.Errorf("cut list ends in %v, want %q", last, ellipsis)
	}
	if _, ok := v["after"]; ok {
		t.Errorf("a member after the budget was spent was kept")
	}

	long := `{"s":"` + strings.Repeat(`\u00e9`, maxString) + `"}`
	s := boundedValue([]byte(long)).(map[string]any)["s"].(string)
	if len(s) > maxString+len(ellipsis) || !strings.HasSuffix(s, ellipsis) || !strings.HasPrefix(s, "éé") {
		t.Errorf("long string kept %d bytes ending %q, want at most %d + %q", len(s), s[len(s)-8:], maxString, ellipsis)
	}
	if got := boundedValue([]byte(`[1e999, 2]`)); !cmp.Equal(got, []any{"1e999", 2.0}) {
		t.Errorf("boundedValue(1e999) = %v, want its text", got)
	}
}

func countNodes(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range v {
			n += countNodes(e)
		}
		return n
	case []any:
		n := 1
		for _, e := range v {
			if e != ellipsis {
				n += countNodes(e)
			}
		}
		return n
	}
	return 1
}

// TestDecodeBounds: the event of a huge signed payload holds bounded
// strings and structures.
func TestDecodeBounds(t *testing.T) {
	model := strings.Repeat("m", 10*maxShort)
	logs := strings.Repeat("line\\n", maxLogs) + "the end"
	errText := strings.Repeat("e", 2*maxError)
	body := `{"id":"x","status":"failed","model":"` + model + `","logs":"` + logs + `","error":"` + errText + `"}`
	ev, err := Decode([]byte(body), nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Model) > maxShort+len(ellipsis) || len(ev.Logs) > maxLogs+len(ellipsis) || len(ev.Error) > maxError+len(ellipsis) {
		t.Errorf("model %d, logs %d, error %d bytes; want at most %d, %d, %d", len(ev.Model), len(ev.Logs), len(ev.Error), maxShort, maxLogs, maxError)
	}
	if !strings.HasSuffix(ev.Logs, "the end") || !strings.HasPrefix(ev.Logs, ellipsis) {
		t.Errorf("logs keep %q…%q, want the end, marked as cut", ev.Logs[:8], ev.Logs[len(ev.Logs)-8:])
	}
}

// TestDecodeStoredAgrees: decoding a stored body without checking it again
// gives the event Decode gives, for every sample and generated body.
func TestDecodeStoredAgrees(t *testing.T) {
	samples, err := SamplesFromFS(os.DirFS("../testdata/samples"))
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{vectorB(t), body19K(t)}
	for _, s := range samples {
		bodies = append(bodies, s.Body)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		b := genJSON(r, 0)
		bodies = append(bodies, append(b[:len(b)-1], []byte(`,"id":"x","status":"failed"}`)...))
	}
	at := time.Unix(1735689600, 0)
	for _, b := range bodies {
		want, err := Decode(b, nil, at)
		if err != nil {
			continue // generated bodies whose members collide with id/status
		}
		got, err := DecodeStored(b, nil, at)
		if err != nil {
			t.Fatalf("DecodeStored(%.100q) = %v", b, err)
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(Event{}), cmpopts.IgnoreFields(Event{}, "raw")); diff != "" {
			t.Fatalf("DecodeStored(%.100q) disagrees with Decode (-want +got):\n%s", b, diff)
		}
	}
	if _, err := DecodeStored([]byte("not json"), nil, at); err == nil {
		t.Errorf("DecodeStored(not json) = nil error")
	}
}
