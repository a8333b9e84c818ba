package replicate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSON(t *testing.T) {
	deep := func(n int) string { // an object holding n-1 nested arrays
		return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"
	}
	vecB := string(vectorB(t))
	long := strings.Repeat("k", 70)
	tests := []struct {
		name string
		body string
		want string // the error text; "" for nil
	}{
		{name: "vector B", body: vecB},
		{name: "vector C UTF-8", body: vecCBodyUTF8},
		{name: "vector C escaped", body: vecCBodyEscaped},
		{name: "empty object", body: `{}`},
		{name: "surrounding whitespace", body: " \t\r\n{ \"a\" : [ 1 , { } ] }\n\n"},
		{name: "every kind of value", body: `{"a":[true,false,null,"",0,-0,1.5,-2e10,3E+2,4e-2,{},[]]}`},
		{name: "escapes", body: `{"a":"\"\\\/\b\f\n\r\t\u0000\u00e9\uD83D\uDE00"}`},
		{name: "DEL and non-ASCII", body: "{\"a\":\"\x7f caf\xc3\xa9 \xf0\x9f\x98\x80\"}"},
		{name: "null", body: `null`, want: "body is not a JSON object"},
		{name: "array", body: `[]`, want: "body is not a JSON object"},
		{name: "string", body: `"str"`, want: "body is not a JSON object"},
		{name: "number", body: `1`, want: "body is not a JSON object"},
		{name: "byte order mark", body: "\xef\xbb\xbf{}", want: "body is not a JSON object"},
		{name: "100000 [", body: strings.Repeat("[", 100000), want: "body is not a JSON object"},
		{name: "empty", body: ``, want: "body is empty"},
		{name: "only whitespace", body: " \n\t\r ", want: "body is empty"},
		{name: "truncated", body: vecB[:len(vecB)-1], want: "invalid JSON at byte 707: unexpected end of input"},
		{name: "truncated in a string", body: `{"a":"b`, want: "invalid JSON at byte 7: unexpected end of input"},
		{name: "truncated in an escape", body: `{"a":"\u00`, want: "invalid JSON at byte 10: unexpected end of input"},
		{name: "truncated after a key", body: `{"a"`, want: "invalid JSON at byte 4: unexpected end of input"},
		{name: "trailing garbage", body: `{}x`, want: "invalid JSON at byte 2: unexpected 'x' after the top-level object"},
		{name: "two objects", body: `{} {}`, want: "invalid JSON at byte 3: unexpected '{' after the top-level object"},
		{name: "trailing comma in object", body: `{"a":1,}`, want: "invalid JSON at byte 7: unexpected '}'"},
		{name: "trailing comma in array", body: `{"a":[1,]}`, want: "invalid JSON at byte 8: unexpected ']'"},
		{name: "missing comma", body: `{"a":1 "b":2}`, want: "invalid JSON at byte 7: unexpected '\"'"},
		{name: "missing colon", body: `{"a" 1}`, want: "invalid JSON at byte 5: unexpected '1'"},
		{name: "unquoted key", body: `{a:1}`, want: "invalid JSON at byte 1: unexpected 'a'"},
		{name: "single quotes", body: `{'a':1}`, want: "invalid JSON at byte 1: unexpected '\\''"},
		{name: "mismatched bracket", body: `{"a":[1}`, want: "invalid JSON at byte 7: unexpected '}'"},
		{name: "comment", body: `{/* c */}`, want: "invalid JSON at byte 1: unexpected '/'"},
		{name: "line comment after", body: "{}// c", want: "invalid JSON at byte 2: unexpected '/' after the top-level object"},
		{name: "NaN", body: `{"a":NaN}`, want: "invalid JSON at byte 5: unexpected 'N'"},
		{name: "Infinity", body: `{"a":-Infinity}`, want: "invalid JSON at byte 6: unexpected 'I'"},
		{name: "leading zero", body: `{"a":01}`, want: "invalid JSON at byte 6: unexpected '1'"},
		{name: "plus sign", body: `{"a":+1}`, want: "invalid JSON at byte 5: unexpected '+'"},
		{name: "bare minus", body: `{"a":-}`, want: "invalid JSON at byte 6: unexpected '}'"},
		{name: "no fraction digits", body: `{"a":1.}`, want: "invalid JSON at byte 7: unexpected '}'"},
		{name: "no integer part", body: `{"a":.5}`, want: "invalid JSON at byte 5: unexpected '.'"},
		{name: "no exponent digits", body: `{"a":1e+}`, want: "invalid JSON at byte 8: unexpected '}'"},
		{name: "hex number", body: `{"a":0x1}`, want: "invalid JSON at byte 6: unexpected 'x'"},
		{name: "misspelt literal", body: `{"a":tru}`, want: "invalid JSON at byte 8: unexpected '}'"},
		{name: "upper-case literal", body: `{"a":True}`, want: "invalid JSON at byte 5: unexpected 'T'"},
		{name: "raw control character", body: "{\"a\":\"\x01\"}", want: `invalid JSON at byte 6: control character '\x01' in string`},
		{name: "raw tab in string", body: "{\"a\":\"\t\"}", want: `invalid JSON at byte 6: control character '\t' in string`},
		{name: "raw newline in key", body: "{\"\n\":1}", want: `invalid JSON at byte 2: control character '\n' in string`},
		{name: "invalid escape", body: `{"a":"\q"}`, want: `invalid JSON at byte 6: invalid escape "\\q"`},
		{name: "invalid unicode escape", body: `{"a":"\u12G4"}`, want: `invalid JSON at byte 6: invalid escape "\\u12G4"`},
		{name: "invalid UTF-8 in a string", body: "{\"a\":\"\xff\"}", want: "invalid UTF-8 at byte 6"},
		{name: "invalid UTF-8 in a key", body: "{\"\xc3\":1}", want: "invalid UTF-8 at byte 2"},
		{name: "UTF-8 encoded surrogate", body: "{\"a\":\"\xed\xa0\x80\"}", want: "invalid UTF-8 at byte 6"},
		{name: "overlong UTF-8", body: "{\"a\":\"\xc0\xaf\"}", want: "invalid UTF-8 at byte 6"},
		{name: "invalid UTF-8 outside strings", body: "{\xff}", want: "invalid UTF-8 at byte 1"},
		{name: "invalid UTF-8 after the object", body: "{}\xff", want: "invalid UTF-8 at byte 2 after the top-level object"},
		{name: "non-ASCII outside strings", body: "{\xc3\xa9}", want: "invalid JSON at byte 1: unexpected 'é'"},
		{name: "lone high surrogate", body: `{"a":"\ud800"}`, want: `invalid JSON at byte 6: lone surrogate escape "\\ud800"`},
		{name: "high surrogate then text", body: `{"a":"\uD800x"}`, want: `invalid JSON at byte 6: lone surrogate escape "\\uD800"`},
		{name: "two high surrogates", body: `{"a":"\ud800\ud800"}`, want: `invalid JSON at byte 6: lone surrogate escape "\\ud800"`},
		{name: "high surrogate then BMP escape", body: `{"a":"\ud800\u0041"}`, want: `invalid JSON at byte 6: lone surrogate escape "\\ud800"`},
		{name: "lone low surrogate", body: `{"a":"x\udc00"}`, want: `invalid JSON at byte 7: lone surrogate escape "\\udc00"`},
		{name: "lone surrogate in a key", body: `{"\udbff":1}`, want: `invalid JSON at byte 2: lone surrogate escape "\\udbff"`},
		{name: "duplicate key", body: `{"a":1,"b":2,"a":3}`, want: `duplicate key "a"`},
		{name: "duplicate key nested deep", body: `{"x":{"y":[1,{"z":1,"q":[],"z":2}]}}`, want: `duplicate key "z"`},
		{name: "duplicate key escaped", body: `{"a":1,"\u0061":2}`, want: `duplicate key "a"`},
		{name: "duplicate key both escaped", body: `{"\n\u00e9":1,"\u000a\u00E9":2}`, want: `duplicate key "\né"`},
		{name: "duplicate key escaped pair", body: "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", want: `duplicate key "😀"`},
		{name: "duplicate empty key", body: `{"":1,"":2}`, want: `duplicate key ""`},
		{name: "duplicate long key", body: `{"` + long + `":1,"` + long + `":2}`, want: `duplicate key "` + long[:64] + `…"`},
		{name: "duplicate key after a nested escaped object", body: `{"\u0062":{"\u0063":1,"d":2},"c":2,"b":3}`, want: `duplicate key "b"`},
		{name: "case variant at top level", body: `{"status":"x","Status":"y"}`, want: `duplicate key "Status" (keys differing only in case are the same here)`},
		{name: "case variant at top level, escaped", body: `{"ID":"x","\u0069d":"y"}`, want: `duplicate key "id" (keys differing only in case are the same here)`},
		{name: "long s at top level", body: `{"status":"x","ſtatus":"y"}`, want: `duplicate key "ſtatus" (keys differing only in case are the same here)`},
		{name: "Kelvin sign at top level", body: `{"kind":1,"\u212aind":2}`, want: "duplicate key \"\u212aind\" (keys differing only in case are the same here)"},
		{name: "case variant in input", body: `{"input":{"prompt":"a","Prompt":"b"}}`},
		{name: "case variant in output", body: `{"output":{"version":"a","Version":"b"}}`},
		{name: "case variant in urls", body: `{"urls":{"get":"a","GET":"b"}}`, want: `duplicate key "GET" (keys differing only in case are the same here)`},
		{name: "case variant in URLS", body: `{"URLS":{"get":"a","Get":"b"}}`, want: `duplicate key "Get" (keys differing only in case are the same here)`},
		{name: "case variant in metrics", body: `{"metrics":{"predict_time":1,"Predict_Time":2}}`, want: `duplicate key "Predict_Time" (keys differing only in case are the same here)`},
		{name: "case variant below metrics", body: `{"metrics":{"x":{"a":1,"A":2}}}`},
		{name: "case variant in nested urls", body: `{"input":{"urls":{"a":1,"A":2}}}`},
		{name: "urls that is not an object", body: `{"urls":[{"a":1,"A":2}]}`},
		{name: "same key in sibling objects", body: `[{"a":1},{"a":1}]`, want: "body is not a JSON object"},
		{name: "same key in siblings", body: `{"x":[{"a":1},{"a":1}],"y":{"a":1}}`},
		{name: "same key at two levels", body: `{"a":{"a":{"a":1}}}`},
		{name: "many keys", body: manyKeys(200, "")},
		{name: "33rd key duplicates the first", body: manyKeys(32, `"k0":0`), want: `duplicate key "k0"`},
		{name: "34th key duplicates the first", body: manyKeys(33, `"k0":0`), want: `duplicate key "k0"`},
		{name: "34th key duplicates the 33rd", body: manyKeys(33, `"k32":0`), want: `duplicate key "k32"`},
		{name: "many keys, duplicate", body: manyKeys(200, `"k7":0`), want: `duplicate key "k7"`},
		{name: "many keys, case variant", body: manyKeys(200, `"K150":0`), want: `duplicate key "K150" (keys differing only in case are the same here)`},
		{name: "many keys nested, case variant", body: `{"input":` + manyKeys(200, `"K150":0`) + "}"},
		{name: "many keys nested, escaped duplicate", body: `{"input":` + manyKeys(200, `"\u006b150":0`) + "}", want: `duplicate key "k150"`},
		{name: "depth 64", body: deep(64)},
		{name: "depth 65", body: deep(65), want: "nesting deeper than 64"},
		{name: "100000 [ in an object", body: `{"a":` + strings.Repeat("[", 100000), want: "nesting deeper than 64"},
		{name: "100000 { in an object", body: strings.Repeat(`{"a":`, 100000), want: "nesting deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSON([]byte(tt.body))
			if got := errText(err); got != tt.want {
				t.Errorf("checkJSON(%.80q) = %q, want %q", tt.body, got, tt.want)
			}
			if err == nil {
				checkAccepted(t, []byte(tt.body))
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// manyKeys returns an object with keys k0..k(n-1) and then extra, if any.
func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":{"k%d":%d},`, i, i, i)
	}
	if extra != "" {
		b.WriteString(extra + ",")
	}
	b.WriteString(`"last":null}`)
	return b.String()
}

// checkAccepted fails unless b, which checkJSON accepted, is valid to
// encoding/json, valid UTF-8, an object, and free of duplicate keys.
func checkAccepted(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("checkJSON(%.80q) = nil, but json.Valid is false", b)
	}
	if !utf8.Valid(b) {
		t.Fatalf("checkJSON(%.80q) = nil, but the body is not UTF-8", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		t.Fatalf("checkJSON(%.80q) = nil, but json.Unmarshal = %v", b, err)
	}
	if dup := refDuplicate(t, b); dup != "" {
		t.Fatalf("checkJSON(%.80q) = nil, but key %q is duplicated", b, dup)
	}
}

// refDuplicate finds a duplicate key with encoding/json's tokenizer: exact
// within any object, ignoring case (strings.EqualFold) at the top level.
func refDuplicate(t *testing.T, b []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		keys   []string
		atKey  bool
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatalf("Token(%.80q): %v", b, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.object && top.atKey {
			for _, p := range top.keys {
				if p == k || (len(stack) == 1 && strings.EqualFold(p, k)) {
					return k
				}
			}
			top.keys = append(top.keys, k)
			top.atKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{object: tok == json.Delim('{'), atKey: tok == json.Delim('{')})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].atKey = true
		}
	}
}

// checkAgreesOnSyntax fails when checkJSON calls syntactically valid UTF-8
// JSON invalid, or accepts what encoding/json rejects.
func checkAgreesOnSyntax(t *testing.T, b []byte) {
	t.Helper()
	err := checkJSON(b)
	if err == nil {
		checkAccepted(t, b)
		return
	}
	syntax := strings.HasPrefix(err.Error(), "invalid ") && !strings.Contains(err.Error(), "lone surrogate")
	if syntax && json.Valid(b) && utf8.Valid(b) {
		t.Fatalf("checkJSON(%.80q) = %v, but json.Valid is true", b, err)
	}
}

func TestCheckJSONDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{vectorB(t), body19K(t), []byte(vecCBodyUTF8), []byte(vecCBodyEscaped),
		[]byte(`{"a":[1,-2.5e3,true,null,{"b":"\u00e9\ud83d\ude00"}]}`)}
	const alphabet = "{}[]\":,\\/ \t\n0123456789-+.eEtrufalsn\x01\x7f\xc3\xa9\xff" + `u00dD8`
	for range 200 {
		b := genJSON(r, 0)
		if err := checkJSON(b); err != nil {
			t.Fatalf("checkJSON(%.200q) = %v, want nil for a generated object", b, err)
		}
		checkAccepted(t, b)
		seeds = append(seeds, b)
	}
	for range 10000 {
		b := bytes.Clone(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			if len(b) == 0 {
				break
			}
			switch i := r.IntN(len(b)); r.IntN(3) {
			case 0:
				b[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		checkAgreesOnSyntax(t, b)
	}
}

// genJSON returns a random object with distinct keys (top-level keys distinct
// ignoring case, too).
func genJSON(r *rand.Rand, depth int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range r.IntN(10) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s"k%d\u00e9%s" : `, space(r), i, []string{"", `\n`, `\u0041`, "\xc3\xa9", `\ud83d\ude00`}[r.IntN(5)])
		b.Write(genValue(r, depth+1))
	}
	b.WriteString(space(r) + "}")
	return b.Bytes()
}

func genValue(r *rand.Rand, depth int) []byte {
	if depth > 4 {
		return []byte("null")
	}
	switch r.IntN(8) {
	case 0:
		return genJSON(r, depth)
	case 1:
		vals := [][]byte{}
		for range r.IntN(5) {
			vals = append(vals, genValue(r, depth+1))
		}
		return append(append([]byte("["), bytes.Join(vals, []byte(","+space(r)))...), ']')
	case 2:
		return []byte([]string{"0", "-0", "12.5e-3", "1E9", "-7.0"}[r.IntN(5)])
	case 3:
		return []byte([]string{"true", "false", "null"}[r.IntN(3)])
	}
	return []byte([]string{`""`, `"x"`, `"\"\\\/\b\f\n\r\t"`, "\"caf\xc3\xa9 \\u003c\"", `"\uDBFF\uDFFF"`}[r.IntN(5)])
}

func space(r *rand.Rand) string { return []string{"", " ", "\n\t", "\r\n "}[r.IntN(4)] }

func TestFoldHash(t *testing.T) {
	seed := maphash.MakeSeed()
	long := strings.Repeat("x", 59)
	tests := []struct {
		a, b string
	}{
		{a: "status", b: "STATUS"},
		{a: "status", b: "ſtatus"},
		{a: "kind", b: "\u212aind"},
		{a: long + "ſſſ", b: long + "SSS"}, // the folded forms cross the 64-byte chunk at different places
		{a: strings.Repeat("ſ", 100), b: strings.Repeat("s", 100)},
		{a: strings.Repeat("é", 70), b: strings.Repeat("É", 70)},
		{a: "", b: ""},
	}
	for _, tt := range tests {
		if !bytes.EqualFold([]byte(tt.a), []byte(tt.b)) {
			t.Fatalf("bytes.EqualFold(%q, %q) = false", tt.a, tt.b)
		}
		if ha, hb := foldHash(seed, []byte(tt.a)), foldHash(seed, []byte(tt.b)); ha != hb {
			t.Errorf("foldHash(%q) = %x, foldHash(%q) = %x, want equal", tt.a, ha, tt.b, hb)
		}
	}
	if foldHash(seed, []byte("status")) == foldHash(seed, []byte("statu")) {
		t.Errorf("foldHash(%q) = foldHash(%q)", "status", "statu")
	}
}

func TestCheckJSONLarge(t *testing.T) {
	// A 25 MiB body: long logs with escapes and non-ASCII text, a long
	// output array, and an input object with 50000 keys (the map path).
	var b strings.Builder
	b.WriteString(`{"id":"x","status":"succeeded","input":{`)
	for i := range 50000 {
		fmt.Fprintf(&b, `"key\u00e9%d":%d,`, i, i)
	}
	b.WriteString(`"last":0},"output":[`)
	b.WriteString(strings.Repeat(`{"a":1,"b":[2.5,"x"]},`, 20000))
	b.WriteString(`null],"logs":"`)
	line := `step 1/9 \u001b[32mok\u001b[0m caf\u00e9 ` + "caf\xc3\xa9 \xf0\x9f\x98\x80\\n"
	b.WriteString(strings.Repeat(line, (25<<20-b.Len())/len(line)))
	b.WriteString(`"}`)
	body := []byte(b.String())
	if err := checkJSON(body); err != nil {
		t.Fatalf("checkJSON(%d bytes) = %v, want nil", len(body), err)
	}
	body[len(body)-1] = ','
	if err := checkJSON(body); err == nil {
		t.Errorf("checkJSON(%d bytes ending in ',') = nil, want an error", len(body))
	}
}

func TestCheckJSONErrorIsNotWrapped(t *testing.T) {
	// The messages go to the client as they are; they must not carry
	// sentinel chains that intake might match by accident.
	if err := checkJSON([]byte(`{}x`)); errors.Unwrap(err) != nil {
		t.Errorf("checkJSON(`{}x`) wraps %v", errors.Unwrap(err))
	}
}

func FuzzCheckJSON(f *testing.F) {
	f.Add(vectorB(f))
	f.Add([]byte(vecCBodyUTF8))
	f.Add([]byte(vecCBodyEscaped))
	f.Add([]byte(`{"status":"x","Status":"y","urls":{"get":"a","GET":"b"}}`))
	f.Add([]byte(`{"a":"\ud800","b":[1,{"c":-0.5e+3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgreesOnSyntax(t, b)
		if checkJSON(b) == nil && bytes.TrimLeft(b, " \t\r\n")[0] != '{' {
			t.Fatalf("checkJSON(%.80q) = nil for a body that is not an object", b)
		}
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	for _, bb := range []struct {
		name string
		body []byte
	}{
		{name: "vector-b-708B", body: vectorB(b)},
		{name: "1.9KB", body: body19K(b)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				if err := checkJSON(bb.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
