package replicate

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
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

var colon = []byte(":")

// checkJSONFields is checkJSON that also records, in top, the raw value of
// each top-level member whose key is one of topNames: intake's decoder then
// needs no second pass over the body.
func checkJSONFields(body []byte, top *topFields) error {
	if len(body) > math.MaxUint32 {
		return errors.New("body is too large to check")
	}
	// Every key is followed by a colon: their count bounds the keys the
	// stack can hold, and sizing it once avoids copying a stack of
	// millions of keys as it grows.
	c := jsonChecker{b: body, keys: make([]keyRef, 0, max(maxSmallKeys, bytes.Count(body, colon))), seed: maphash.MakeSeed(), top: top, field: -1}
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
// Offsets are 32 bits (checkJSON refuses larger bodies) to keep an object
// of millions of keys small.
type keyRef struct {
	start, end uint32
	hash       uint64 // of the key, folded if its object ignores case
	inArena    bool
}

// objectKeys describes one open object. Its keys are keys[keyMark:]: objects
// close in the reverse order they open, so the keys of all open objects share
// one stack, and so do their unescaped forms in the arena.
type objectKeys struct {
	fold      bool // compare keys ignoring case
	keyMark   int  // len(keys) when the object opened
	arenaMark int  // len(arena) when the object opened
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
		if err := c.checkBigObject(o); err != nil {
			return 0, err
		}
		c.keys, c.arena = c.keys[:o.keyMark], c.arena[:o.arenaMark]
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
	ref := keyRef{start: uint32(start + 1), end: uint32(c.i - 1)}
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
