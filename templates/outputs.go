package templates

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxOutputDepth bounds how deep outputs looks into nested lists and objects.
const maxOutputDepth = 32

// outputs returns the http(s) URLs in an output value, in order: the value
// itself when it is a string, the elements of a list, the values of an object
// (by key order), recursively. data: URIs, other schemes and text that is not
// a plain URL (see link) are skipped. It never returns nil.
func outputs(v any) []string {
	urls := []string{}
	collectURLs(reflect.ValueOf(v), 0, &urls)
	return urls
}

func collectURLs(r reflect.Value, depth int, urls *[]string) {
	if depth > maxOutputDepth || !r.IsValid() {
		return
	}
	switch r.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !r.IsNil() {
			collectURLs(r.Elem(), depth+1, urls)
		}
	case reflect.String:
		if u := link(r.String()); u != "" {
			*urls = append(*urls, u)
		}
	case reflect.Slice, reflect.Array:
		for i := range r.Len() {
			collectURLs(r.Index(i), depth+1, urls)
		}
	case reflect.Map:
		keys := r.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
		})
		for _, k := range keys {
			collectURLs(r.MapIndex(k), depth+1, urls)
		}
	}
}

// link returns v when it is an absolute http or https URL with a host and
// none of the characters that could break out of markup (space, control
// characters, quotes, <, >, |, backslash, backtick); otherwise "".
func link(v any) string {
	s, ok := v.(string)
	if !ok || s == "" || !utf8.ValidString(s) {
		return ""
	}
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || strings.ContainsRune("\"'<>|\\`", r)
	}) {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

// base returns the last element of a URL's path ("out.png"), or its host
// when the path is empty; for text that is not a URL, the text itself.
func base(v any) string {
	s := str(v)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	p := strings.TrimSuffix(u.Path, "/")
	if p == "" {
		return u.Host
	}
	return path.Base(p)
}
