package replicate

import (
	"bytes"
	"cmp"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The duplicate-key half of checkJSON: keys are unescaped, hashed (folded
// where an object ignores case) and compared with the other keys of their
// object.

// addKey records a key of the innermost object. The first maxSmallKeys
// keys of an object are compared with each other as they come (a linear
// scan of hashes); an object with more is checked once, when it closes
// (checkBigObject), which keeps millions of keys cheap.
func (c *jsonChecker) addKey(ref keyRef) error {
	o := &c.objs[c.depth-1]
	k := c.keyBytes(ref)
	if o.fold {
		ref.hash = foldHash(c.seed, k)
	} else {
		ref.hash = maphash.Bytes(c.seed, k)
	}
	if len(c.keys)-o.keyMark < maxSmallKeys {
		for _, p := range c.keys[o.keyMark:] {
			if p.hash == ref.hash {
				if err := c.compareKey(o.fold, p, k); err != nil {
					return err
				}
			}
		}
	}
	c.keys = append(c.keys, ref)
	return nil
}

// checkBigObject fails when an object of more than maxSmallKeys keys, now
// closing, has a key twice: its keys are sorted by hash and each run of
// equal hashes compared. The first maxSmallKeys were compared as they came.
func (c *jsonChecker) checkBigObject(o *objectKeys) error {
	keys := c.keys[o.keyMark:]
	if len(keys) <= maxSmallKeys {
		return nil
	}
	// Stable: of two equal keys, the later one is reported, as when the keys
	// are compared as they come.
	slices.SortStableFunc(keys, func(a, b keyRef) int { return cmp.Compare(a.hash, b.hash) })
	for i := 1; i < len(keys); i++ {
		for j := i - 1; j >= 0 && keys[j].hash == keys[i].hash; j-- {
			if err := c.compareKey(o.fold, keys[j], c.keyBytes(keys[i])); err != nil {
				return err
			}
		}
	}
	return nil
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
	from := uint32(len(c.arena))
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
	return keyRef{start: from, end: uint32(len(c.arena)), inArena: true}
}

// unescapeByte returns the byte that the one-letter escape \ch stands for.
func unescapeByte(ch byte) byte {
	if i := strings.IndexByte("bfnrt", ch); i >= 0 {
		return "\b\f\n\r\t"[i]
	}
	return ch // '"', '\\' or '/'
}
