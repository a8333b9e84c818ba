package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/hooknote/hooknote/store"
)

// keyedKey is the key of job id in the keys bucket: the jobs of one Key
// sort together, in order of their ids (of enqueueing).
func keyedKey(key string, id uint64) []byte {
	k := appendString(make([]byte, 0, binary.MaxVarintLen64+len(key)+8), key)
	return binary.BigEndian.AppendUint64(k, id)
}

// firstOfKey reports whether job id is the earliest pending job of key:
// the only one of its Key that may be claimed.
func (t *txn) firstOfKey(key string, id uint64) bool {
	prefix := appendString(nil, key)
	k, _ := t.keys.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 &&
		binary.BigEndian.Uint64(k[len(prefix):]) == id
}

// laterOfKey counts the pending jobs of key after its first.
func (t *txn) laterOfKey(key string) int {
	prefix := appendString(nil, key)
	c := t.keys.Cursor()
	n := -1
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return max(n, 0)
}

// liveRecord returns the live record of key not expired at now, or nil.
func (t *txn) liveRecord(key string, now int64) *store.Live {
	v := t.live.Get([]byte(key))
	if len(v) < 8 || decodeNanos(v[:8]) <= now {
		return nil
	}
	rank, n := binary.Varint(v[8:])
	if n <= 0 {
		return nil
	}
	return &store.Live{Rank: int(rank), Ref: append([]byte(nil), v[8+n:]...)}
}

// putLive replaces the live record of key, expiring at exp or at the
// expiry it had when that is later.
func (t *txn) putLive(key string, l *store.Live, exp int64) error {
	if v := t.live.Get([]byte(key)); len(v) >= 8 {
		exp = max(exp, decodeNanos(v[:8]))
	}
	v := binary.AppendVarint(encodeNanos(exp), int64(l.Rank))
	if err := t.live.Put([]byte(key), append(v, l.Ref...)); err != nil {
		return fmt.Errorf("put live record: %w", err)
	}
	return nil
}
