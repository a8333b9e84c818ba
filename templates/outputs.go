package templates

import (
	"net/url"
	"path"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// outputs looks at most maxOutputDepth levels deep into nested lists and
// objects, and at most maxOutputNodes values in all, so that a hostile
// output costs a bounded amount to render.
const (
	maxOutputDepth = 32
	maxOutputNodes = 10_000
)

// outputs returns the http(s) URLs in an output value, in order: the value
// itself when it is a string, the elements of a list, the values of an object
// (by key order), recursively. data: URIs, other schemes and text that is not
// a plain URL (see link) are skipped. It never returns nil.
func outputs(v any) []string {
	c := urlCollector{urls: []string{}, budget: maxOutputNodes}
	c.collect(reflect.ValueOf(v), 0)
	return c.urls
}

// urlCollector gathers URLs within a budget of values visited.
type urlCollector struct {
	urls   []string
	budget int
}

func (c *urlCollector) collect(r reflect.Value, depth int) {
	if depth > maxOutputDepth || !r.IsValid() || c.budget <= 0 {
		return
	}
	c.budget--
	switch r.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !r.IsNil() {
			c.collect(r.Elem(), depth+1)
		}
	case reflect.String:
		if u := link(r.String()); u != "" {
			c.urls = append(c.urls, u)
		}
	case reflect.Slice, reflect.Array:
		for i := range min(r.Len(), c.budget) {
			c.collect(r.Index(i), depth+1)
		}
	case reflect.Map:
		if r.Type().Key().Kind() != reflect.String {
			return // JSON objects have string keys
		}
		keys := make([]string, 0, r.Len()) // events' maps are bounded already (replicate)
		for it := r.MapRange(); it.Next(); {
			keys = append(keys, it.Key().String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			c.collect(r.MapIndex(reflect.ValueOf(k).Convert(r.Type().Key())), depth+1)
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

// maxImageURL is the longest image_url Slack accepts.
const maxImageURL = 3000

// image returns the first URL of outputs(v) that Slack can show in an image
// block: its path (not its query) ends in .png, .jpg, .jpeg or .gif, in any
// case, and it is at most 3,000 bytes long. It returns "" when there is
// none: Slack rejects a whole message for an image block with WebP or an
// image it cannot fetch.
func image(v any) string {
	for _, s := range outputs(v) {
		if len(s) > maxImageURL {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		switch strings.ToLower(path.Ext(u.Path)) {
		case ".png", ".jpg", ".jpeg", ".gif":
			return s
		}
	}
	return ""
}
