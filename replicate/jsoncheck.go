package replicate

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	maxJSONDepth = 64 // nested objects and arrays, the top-level object included
	maxSmallKeys = 32 // keys of one object found by a linear scan of hashes; a map beyond
	maxQuotedKey = 64 // bytes of a key quoted in an error
)

// checkJSON reports why body is not an acceptable webhook body, or nil.
//
// An acceptable body is exactly one JSON value under the strict grammar of
// RFC 8259, and that value is an object; whitespace may surround it. The
// whole body is valid UTF-8 and containers nest at most 64 deep. No object
// has the same key twice, because two parsers (or encoding/json, where the
// last one wins) could read two different events from the same signed bytes.
// Keys are compared after unescaping, so "a" and "\u0061" are the same key.
// In the top-level object, which is decoded into a struct, keys are also
// compared ignoring case the way encoding/json matches field names
// (bytes.EqualFold, so "ſtatus" with a long s duplicates "status"); so are
// the keys of its "urls" and "metrics" objects, in case they become structs.
//
// A lone UTF-16 surrogate escape (\ud800 not followed by a low surrogate
// escape, or a lone \udc00) is an error. It encodes no character, and
// encoding/json silently replaces each one with U+FFFD, so the keys "\ud800"
// and "\udbff" would differ here but collide once decoded.
//
// checkJSON makes one pass over body without recursion, so its time is linear
// in the size of the body.
func checkJSON(body []byte) error {
	return checkJSONFields(body, nil)
}

// checkJSONFields is checkJSON that also records, in top, the raw value of
// each top-level member whose key is one of topNames: intake's decoder then
// needs no second pass over the body.
func checkJSONFields(body []byte, top *topFields) error {
	c := jsonChecker{b: body, keys: make([]keyRef, 0, maxSmallKeys), seed: maphash.MakeSeed(), top: top, field: -1}
	return c.run()
}

// jsonState is what the checker expects next.
type jsonState uint8

const (
	wantValue  jsonState = iota // any value
	wantKey                     // an object key (after '{' or ',')
	afterValue                  // ',' or the closing bracket
	jsonDone                    // the top-level object is closed
)

// keyRef is one key of an open object. Its unescaped bytes are
// b[start:end] when the key has no escapes, arena[start:end] otherwise.
type keyRef struct {
	start, end int
	inArena    bool
	hash       uint64 // of the key, folded if its object ignores case
	next       int    // index in keys of an earlier key with the same hash, or -1
}

// objectKeys describes one open object. Its keys are keys[keyMark:]: objects
// close in the reverse order they open, so the keys of all open objects share
// one stack, and so do their unescaped forms in the arena.
type objectKeys struct {
	fold      bool           // compare keys ignoring case
	keyMark   int            // len(keys) when the object opened
	arenaMark int            // len(arena) when the object opened
	index     map[uint64]int // hash → the last key with it; past maxSmallKeys keys
}

// jsonChecker holds the state of one checkJSON call.
type jsonChecker struct {
	b        []byte
	i        int // the next byte to read
	depth    int // open containers
	open     [maxJSONDepth]byte
	objs     [maxJSONDepth]objectKeys // objs[d] belongs to open[d] when it is '{'
	foldNext bool                     // the next value is the top level or its "urls" or "metrics"
	keys     []keyRef                 // the keys of the open objects
	arena    []byte                   // unescaped keys with escapes
	seed     maphash.Seed             // random, so that no one can choose colliding keys
	top      *topFields               // where top-level values are recorded, or nil
	field    int                      // the topNames index of the member being read, or -1
	valStart int                      // where that member's value starts
}

func (c *jsonChecker) run() error {
	c.skipSpace()
	if c.i == len(c.b) {
		return errors.New("body is empty")
	}
	if c.b[c.i] != '{' {
		return errors.New("body is not a JSON object")
	}
	c.foldNext = true // the top-level object is decoded into a struct
	st := wantValue
	var err error
	for st != jsonDone {
		switch st {
		case wantValue:
			st, err = c.value()
		case wantKey:
			st, err = c.key()
		case afterValue:
			st, err = c.after()
		}
		if err != nil {
			return err
		}
		if c.field >= 0 && st == afterValue && c.depth == 1 {
			c.top.raw[c.field] = c.b[c.valStart:c.i]
			c.field = -1
		}
	}
	return nil
}

func (c *jsonChecker) value() (jsonState, error) {
	c.skipSpace()
	if c.i == len(c.b) {
		return 0, c.unexpected(c.i)
	}
	if c.depth == 1 {
		c.valStart = c.i
	}
	fold := c.foldNext
	c.foldNext = false
	switch ch := c.b[c.i]; {
	case ch == '{' || ch == '[':
		return c.push(ch, fold)
	case ch == '"':
		_, err := c.str()
		return afterValue, err
	case ch == '-' || ('0' <= ch && ch <= '9'):
		return afterValue, c.number()
	case ch == 't':
		return afterValue, c.literal("true")
	case ch == 'f':
		return afterValue, c.literal("false")
	case ch == 'n':
		return afterValue, c.literal("null")
	}
	return 0, c.unexpected(c.i)
}

// push opens the object or array at c.i.
func (c *jsonChecker) push(ch byte, fold bool) (jsonState, error) {
	if c.depth == maxJSONDepth {
		return 0, fmt.Errorf("nesting deeper than %d", maxJSONDepth)
	}
	c.open[c.depth] = ch
	if ch == '{' {
		c.objs[c.depth] = objectKeys{fold: fold, keyMark: len(c.keys), arenaMark: len(c.arena)}
	}
	c.depth++
	c.i++
	c.skipSpace()
	if c.i < len(c.b) && c.b[c.i] == closer(ch) {
		return c.pop()
	}
	if ch == '{' {
		return wantKey, nil
	}
	return wantValue, nil
}

// pop closes the container whose closing bracket is at c.i.
func (c *jsonChecker) pop() (jsonState, error) {
	c.depth--
	if o := &c.objs[c.depth]; c.open[c.depth] == '{' {
		c.keys, c.arena, o.index = c.keys[:o.keyMark], c.arena[:o.arenaMark], nil
	}
	c.i++
	if c.depth > 0 {
		return afterValue, nil
	}
	c.skipSpace()
	if c.i < len(c.b) {
		return 0, fmt.Errorf("%v after the top-level object", c.unexpected(c.i))
	}
	return jsonDone, nil
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

func (c *jsonChecker) after() (jsonState, error) {
	c.skipSpace()
	if c.i == len(c.b) {
		return 0, c.unexpected(c.i)
	}
	open := c.open[c.depth-1]
	switch c.b[c.i] {
	case ',':
		c.i++
		if open == '{' {
			return wantKey, nil
		}
		return wantValue, nil
	case closer(open):
		return c.pop()
	}
	return 0, c.unexpected(c.i)
}

func (c *jsonChecker) key() (jsonState, error) {
	c.skipSpace()
	if c.i == len(c.b) || c.b[c.i] != '"' {
		return 0, c.unexpected(c.i)
	}
	start := c.i
	escaped, err := c.str()
	if err != nil {
		return 0, err
	}
	ref := keyRef{start: start + 1, end: c.i - 1}
	if escaped {
		ref = c.unescapeKey(c.b[start+1 : c.i-1])
	}
	if err := c.addKey(ref); err != nil {
		return 0, err
	}
	c.skipSpace()
	if c.i == len(c.b) || c.b[c.i] != ':' {
		return 0, c.unexpected(c.i)
	}
	c.i++
	if c.depth == 1 {
		k := c.keyBytes(ref)
		c.foldNext = bytes.EqualFold(k, []byte("urls")) || bytes.EqualFold(k, []byte("metrics"))
		if c.top != nil {
			c.field = topIndex(k)
		}
	}
	return wantValue, nil
}

func (c *jsonChecker) keyBytes(r keyRef) []byte {
	if r.inArena {
		return c.arena[r.start:r.end]
	}
	return c.b[r.start:r.end]
}

// addKey records a key of the innermost object, failing on a duplicate.
func (c *jsonChecker) addKey(ref keyRef) error {
	o := &c.objs[c.depth-1]
	k := c.keyBytes(ref)
	if o.fold {
		ref.hash = foldHash(c.seed, k)
	} else {
		ref.hash = maphash.Bytes(c.seed, k)
	}
	if o.index == nil {
		for _, p := range c.keys[o.keyMark:] {
			if p.hash == ref.hash {
				if err := c.compareKey(o.fold, p, k); err != nil {
					return err
				}
			}
		}
	} else if j, ok := o.index[ref.hash]; ok {
		for ; j >= 0; j = c.keys[j].next {
			if err := c.compareKey(o.fold, c.keys[j], k); err != nil {
				return err
			}
		}
	}
	c.keys = append(c.keys, ref)
	switch n := len(c.keys) - o.keyMark; {
	case n == maxSmallKeys+1:
		o.index = make(map[uint64]int, 4*maxSmallKeys)
		for j := o.keyMark; j < len(c.keys); j++ {
			c.indexKey(o, j)
		}
	case n > maxSmallKeys+1:
		c.indexKey(o, len(c.keys)-1)
	}
	return nil
}

// indexKey adds keys[j] to the hash index of its object o.
func (c *jsonChecker) indexKey(o *objectKeys, j int) {
	k := &c.keys[j]
	k.next = -1
	if prev, ok := o.index[k.hash]; ok {
		k.next = prev
	}
	o.index[k.hash] = j
}

// compareKey fails when k, the new key, duplicates the earlier key p.
func (c *jsonChecker) compareKey(fold bool, p keyRef, k []byte) error {
	prev := c.keyBytes(p)
	if bytes.Equal(prev, k) {
		return duplicateKey(k, false)
	}
	if fold && bytes.EqualFold(prev, k) {
		return duplicateKey(k, true)
	}
	return nil
}

// foldHash hashes k with every rune replaced by the smallest rune of its
// case-folding orbit, as encoding/json folds field names, so that keys that
// bytes.EqualFold reports equal hash the same. Short keys take one
// maphash.Bytes call; long ones stream through a maphash.Hash, which gives
// the same result.
func foldHash(seed maphash.Seed, k []byte) uint64 {
	var (
		buf  [64]byte
		n    int
		h    maphash.Hash
		long bool
	)
	for len(k) > 0 {
		if n > len(buf)-utf8.UTFMax {
			if !long {
				h.SetSeed(seed)
				long = true
			}
			h.Write(buf[:n])
			n = 0
		}
		if ch := k[0]; ch < utf8.RuneSelf {
			if 'a' <= ch && ch <= 'z' {
				ch -= 'a' - 'A'
			}
			buf[n] = ch
			n++
			k = k[1:]
			continue
		}
		r, size := utf8.DecodeRune(k)
		n += utf8.EncodeRune(buf[n:], foldRune(r))
		k = k[size:]
	}
	if !long {
		return maphash.Bytes(seed, buf[:n])
	}
	h.Write(buf[:n])
	return h.Sum64()
}

// foldRune returns the smallest rune that folds to the same as r.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

func duplicateKey(k []byte, caseOnly bool) error {
	name := string(k)
	if len(k) > maxQuotedKey {
		cut := maxQuotedKey
		for cut > 0 && !utf8.RuneStart(k[cut]) {
			cut--
		}
		name = string(k[:cut]) + "…"
	}
	if caseOnly {
		return fmt.Errorf("duplicate key %q (keys differing only in case are the same here)", name)
	}
	return fmt.Errorf("duplicate key %q", name)
}

// unescapeKey appends the unescaped form of s, the inside of a valid string
// literal, to the arena.
func (c *jsonChecker) unescapeKey(s []byte) keyRef {
	from := len(c.arena)
	for len(s) > 0 {
		j := bytes.IndexByte(s, '\\')
		if j != 0 {
			if j < 0 {
				j = len(s)
			}
			c.arena = append(c.arena, s[:j]...)
			s = s[j:]
			continue
		}
		if s[1] != 'u' {
			c.arena = append(c.arena, unescapeByte(s[1]))
			s = s[2:]
			continue
		}
		r, _ := hex4(s[2:6])
		n := 6
		if utf16.IsSurrogate(r) { // a valid pair, checked by str
			r2, _ := hex4(s[8:12])
			r, n = utf16.DecodeRune(r, r2), 12
		}
		c.arena = utf8.AppendRune(c.arena, r)
		s = s[n:]
	}
	return keyRef{start: from, end: len(c.arena), inArena: true}
}

// unescapeByte returns the byte that the one-letter escape \ch stands for.
func unescapeByte(ch byte) byte {
	if i := strings.IndexByte("bfnrt", ch); i >= 0 {
		return "\b\f\n\r\t"[i]
	}
	return ch // '"', '\\' or '/'
}
