package templates

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Funcs returns the functions every hooknote template may call, keyed by
// name. Each call returns a new map. The functions are pure: none reads the
// clock, the environment or a file.
//
//	duration 83.5 → "1m 24s"; duration .StartedAt .CompletedAt → the span;
//	    zero, negative or missing → "" (so {{ with }} and default skip it)
//	truncate N s  → at most N runes, the last one "…" when cut
//	tail N s      → the last N lines (\n, \r\n or \r), trailing breaks ignored
//	json v        → compact JSON; dict "k" v … → an object to pass to json
//	default d v   → v, or d when v is nil, zero or empty
//	join sep list → the elements printed and joined; first N list → a prefix
//	outputs v     → the http(s) URLs in an output value, recursively
//	payload ev    → the event as the default webhook body's object (json it)
//	link v        → v if it is a clean http(s) URL, else ""; base url → "out.png"
//	get v k…      → v[k]… through maps and lists; nil when missing
//	slackEscape v → & < > as entities, one line, no backticks or bidi controls;
//	    slackBlock v → the same with line breaks kept (inside ```);
//	    slackRaw v → v, marked as safe markup
//	slackTruncate N v → v cut to fit N runes once Slack-escaped ("…" when
//	    cut; & < > count as their entities), still to be escaped;
//	    slackTruncateLeft N v → the same keeping the end ("…" first);
//	    slackLen v → the length in runes of slackEscape v
//	jsonString v  → v as the contents of a JSON string, without the quotes
//	    (Blocks mode appends it to every printed value: never call it there)
//	image v       → the first URL of outputs v whose path ends in .png, .jpg,
//	    .jpeg or .gif (any case; query ignored), at most 3,000 bytes; else ""
//	firstLine v   → the first line that is not blank, trimmed
//	upper, lower, title (first letter upper), emoji status, sub a b, str v
//	time "layout" t → t in UTC with a Go layout; zero time → ""
//
// For digests (the dot is a *Digest):
//
//	statusCounts .Statuses → {Status, Count} entries, failed, aborted,
//	    canceled, succeeded, processing, starting, then others by name
//	models .Events → the distinct models, first seen first
//	digestPayload d → the digest as the default webhook.digest's object:
//	    rule, notifier, group, count, statuses, first, last, and events
//	    each as payload builds it (json it)
//
// Functions that take text accept any value and print it the way a template
// action would, except that nil (a missing map key, a JSON null) prints as
// "" rather than "<no value>" or "<nil>".
func Funcs() map[string]any {
	return map[string]any{
		"base":              base,
		"default":           defaultValue,
		"dict":              dict,
		"digestPayload":     digestPayload,
		"duration":          duration,
		"emoji":             emoji,
		"first":             first,
		"firstLine":         firstLine,
		"get":               get,
		"image":             image,
		"join":              join,
		"json":              toJSON,
		"jsonString":        jsonString,
		"link":              link,
		"lower":             func(v any) string { return strings.ToLower(str(v)) },
		"models":            models,
		"outputs":           outputs,
		"payload":           payload,
		"slackBlock":        slackBlock,
		"slackEscape":       slackEscape,
		"slackLen":          slackLen,
		"slackRaw":          str,
		"slackTruncate":     slackTruncate,
		"slackTruncateLeft": slackTruncateLeft,
		"statusCounts":      statusCounts,
		"str":               str,
		"sub":               func(a, b int) int { return a - b },
		"tail":              tail,
		"time":              formatTime,
		"title":             title,
		"truncate":          truncate,
		"upper":             func(v any) string { return strings.ToUpper(str(v)) },
	}
}

// str prints v as a template action would, but prints nil as "".
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// defaultValue returns v unless it is nil, zero or empty; then def.
func defaultValue(def, v any) any {
	if empty(v) {
		return def
	}
	return v
}

// empty reports whether v is nil, a zero value, or an empty map, slice or
// string.
func empty(v any) bool {
	r := reflect.ValueOf(v)
	if !r.IsValid() {
		return true
	}
	switch r.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.String:
		return r.Len() == 0
	}
	return r.IsZero()
}

// join prints the elements of a list separated by sep. A string is returned
// as is, nil as "", and any other value printed.
func join(sep string, list any) string {
	r := reflect.ValueOf(list)
	if !r.IsValid() || r.Kind() == reflect.String {
		return str(list)
	}
	if r.Kind() != reflect.Slice && r.Kind() != reflect.Array {
		return str(list)
	}
	parts := make([]string, r.Len())
	for i := range parts {
		parts[i] = str(r.Index(i).Interface())
	}
	return strings.Join(parts, sep)
}

// first returns the first n elements of a list (all of them when it has
// fewer), as a []any; nil and non-lists give an empty list.
func first(n int, list any) []any {
	r := reflect.ValueOf(list)
	if !r.IsValid() || (r.Kind() != reflect.Slice && r.Kind() != reflect.Array) {
		return nil
	}
	n = max(0, min(n, r.Len()))
	out := make([]any, n)
	for i := range out {
		out[i] = r.Index(i).Interface()
	}
	return out
}

// toJSON returns v as compact JSON. <, > and & are left as they are (not
// \u003c…): the escaping mode of the template escapes them where needed.
func toJSON(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// dict builds a map from key, value pairs: dict "a" 1 "b" .X.
func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments (%d)", len(pairs))
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %d is a %T, not a string", i/2, pairs[i])
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}

// get walks v through maps (by string key) and lists (by integer index) and
// returns what it finds, or nil when any step is missing or of another type:
// get .Output "version", get .Input "images" 0.
func get(v any, path ...any) any {
	for _, p := range path {
		r := reflect.ValueOf(v)
		if !r.IsValid() {
			return nil
		}
		switch r.Kind() {
		case reflect.Map:
			k, ok := p.(string)
			if !ok || r.Type().Key().Kind() != reflect.String {
				return nil
			}
			e := r.MapIndex(reflect.ValueOf(k).Convert(r.Type().Key()))
			if !e.IsValid() {
				return nil
			}
			v = e.Interface()
		case reflect.Slice, reflect.Array:
			i, ok := p.(int)
			if !ok || i < 0 || i >= r.Len() {
				return nil
			}
			v = r.Index(i).Interface()
		default:
			return nil
		}
	}
	return v
}

// emoji returns the emoji for a status word.
func emoji(status any) string {
	switch str(status) {
	case "succeeded":
		return "✅"
	case "failed":
		return "❌"
	case "canceled":
		return "🚫"
	case "aborted":
		return "⏹️"
	case "starting":
		return "⏳"
	case "processing":
		return "⚙️"
	}
	return "🔔"
}

// title returns s with its first letter in upper case.
func title(v any) string {
	s := str(v)
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToTitle(r)) + s[size:]
}
