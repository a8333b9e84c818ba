package bolt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hooknote/hooknote/store"
)

// Bucket names, and the key of the format version in the meta bucket. They
// are constants (a []byte variable could be changed in place): convert them
// with []byte(name) where bbolt wants bytes. Every multi-byte number in a
// key is big-endian so that keys sort by it.
const (
	bucketMeta   = "meta"   // keyVersion → formatVersion
	bucketSeen   = "seen"   // hashed dedupe key (16 bytes) → expiry (8 bytes)
	bucketJobs   = "jobs"   // id (8 bytes) → job record
	bucketDue    = "due"    // notifier (uvarint length + bytes) + nextAt (8 bytes) + id (8 bytes) → nil
	bucketBodies = "bodies" // body id (8 bytes) → raw body
	bucketRefs   = "refs"   // body id (8 bytes) → reference count (uvarint)
	bucketDead   = "dead"   // id (8 bytes) → job record
	bucketKeys   = "keys"   // job Key (uvarint length + bytes) + id (8 bytes) → nil: pending jobs by Key, in order
	bucketLive   = "live"   // job Key → expiry (8 bytes) + rank (varint) + the notifier's reference
	bucketDigest = "digest" // digest id (8 bytes) → open digest
	bucketGroups = "groups" // rule, notifier, group (each uvarint length + bytes) → open digest id (8 bytes)
	bucketDigDue = "digdue" // due (8 bytes) + digest id (8 bytes) → nil: open digests by when they fall due
	bucketJoined = "joined" // digest id (8 bytes) + sequence (8 bytes) → an event's entry, in order of joining
	bucketMember = "member" // rule, notifier, event id (each uvarint length + bytes) → its entry's key in joined

	keyVersion = "version"
)

// allBuckets returns the names of every bucket, a new slice at each call.
func allBuckets() []string {
	return []string{bucketMeta, bucketSeen, bucketJobs, bucketDue, bucketBodies, bucketRefs, bucketDead,
		bucketKeys, bucketLive, bucketDigest, bucketGroups, bucketDigDue, bucketJoined, bucketMember}
}

// fileVersion is the layout of the file, in the meta bucket: 3 files the
// due index by notifier; 4 keeps dedupe keys hashed to 16 bytes, without an
// expiry index; 5 adds job Keys (the due index's values), live records and
// digests. Older files are brought up to date at open.
// formatVersion is the first byte of every job record: version 3 adds the
// Key and the digest a job carries; versions 1 (an on_dead notice id
// instead of Extra) and 2 are still read.
const (
	fileVersion     = 5
	formatVersion   = 3 // of records
	formatVersionV2 = 2
	formatVersionV1 = 1
)

// Kinds of dedupe keys (the first byte of a key in the seen bucket).
const (
	seenWebhook  = 'w' // webhook-id
	seenJob      = 'j' // (event id, status, rule, notifier)
	seenTerminal = 't' // a terminal status was recorded for an event id
)

// errCorrupt reports a record that cannot be decoded.
var errCorrupt = errors.New("corrupt record")

// seenKey is the stored dedupe key of the given kind and parts: the first
// 16 bytes of the SHA-256 of their length-prefixed form, so that no choice
// of part values makes two keys equal (collisions of 128 bits of SHA-256
// cannot be found), and every key costs 16 bytes on disk whatever the ids,
// rules and notifiers hold.
func seenKey(kind byte, parts ...string) []byte {
	return hashKey(plainKey(kind, parts...))
}

// hashKey hashes a dedupe key in its plain form (files of version 3 and
// before stored them plain).
func hashKey(plain []byte) []byte {
	sum := sha256.Sum256(plain)
	return sum[:seenKeyLen]
}

// seenKeyLen is the length of a stored dedupe key.
const seenKeyLen = 16

// plainKey builds the plain form of a dedupe key from length-prefixed parts.
func plainKey(kind byte, parts ...string) []byte {
	n := 1
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	k := make([]byte, 1, n)
	k[0] = kind
	for _, p := range parts {
		k = appendString(k, p)
	}
	return k
}

// sortable maps unix nanoseconds to a uint64 that sorts like the signed value.
func sortable(n int64) uint64 { return uint64(n) ^ (1 << 63) }

// unsortable inverts sortable.
func unsortable(u uint64) int64 { return int64(u ^ (1 << 63)) }

// itob encodes an id as an 8-byte big-endian key.
func itob(id uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), id) }

// duePrefix is the part of the due keys of notifier's jobs before the time.
func duePrefix(notifier string) []byte {
	return appendString(make([]byte, 0, binary.MaxVarintLen64+len(notifier)+16), notifier)
}

// dueKey is the key of job id of notifier in the due bucket: the jobs of
// one notifier sort together, by due time.
func dueKey(notifier string, at int64, id uint64) []byte {
	k := binary.BigEndian.AppendUint64(duePrefix(notifier), sortable(at))
	return binary.BigEndian.AppendUint64(k, id)
}

// splitDueKey inverts dueKey; ok is false for a malformed key.
func splitDueKey(k []byte) (notifier string, at int64, id uint64, ok bool) {
	n, size := binary.Uvarint(k)
	if size <= 0 || uint64(len(k)-size) != n+16 {
		return "", 0, 0, false
	}
	rest := k[size+int(n):]
	return string(k[size : size+int(n)]), unsortable(binary.BigEndian.Uint64(rest)), binary.BigEndian.Uint64(rest[8:]), true
}

// afterPrefix returns the smallest key greater than every key starting with
// prefix (nil when there is none).
func afterPrefix(prefix []byte) []byte {
	p := append([]byte(nil), prefix...)
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] < 0xff {
			p[i]++
			return p[:i+1]
		}
	}
	return nil
}

// encodeNanos encodes an expiry for the seen bucket.
func encodeNanos(n int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), sortable(n))
}

// decodeNanos inverts encodeNanos; a malformed value reads as long expired.
func decodeNanos(v []byte) int64 {
	if len(v) != 8 {
		return unsortable(0)
	}
	return unsortable(binary.BigEndian.Uint64(v))
}

// nanos converts a time to unix nanoseconds, the zero time to 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos inverts nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// record is a job as stored: the store.Job without its body (nor Later
// and Live, which are read at claim), plus the id of the shared body, and
// of each event's body for a digest.
type record struct {
	store.Job
	bodyID  uint64
	bodyIDs []uint64 // of Digest.Events
}

// encode appends the record's binary form (everything but ID and Body).
func (r *record) encode() []byte {
	j := &r.Job
	n := 1 + 7*binary.MaxVarintLen64 + 8*binary.MaxVarintLen32 +
		len(j.EventID) + len(j.Status) + len(j.Rule) + len(j.Notifier) +
		len(j.WebhookID) + len(j.Query) + len(j.LastError) + len(j.Extra) + len(j.Key)
	b := make([]byte, 1, n)
	b[0] = formatVersion
	b = binary.AppendUvarint(b, r.bodyID)
	b = binary.AppendUvarint(b, uint64(j.Attempts))
	for _, t := range []time.Time{j.ReceivedAt, j.FirstAt, j.NextAt, j.DeadAt} {
		b = binary.AppendVarint(b, nanos(t))
	}
	for _, s := range []string{j.EventID, j.Status, j.Rule, j.Notifier, j.WebhookID, j.Query, j.LastError} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(j.Extra)))
	b = append(b, j.Extra...)
	b = appendString(b, j.Key)
	if j.Digest == nil {
		return append(b, 0)
	}
	dg := j.Digest
	b = append(b, 1)
	b = appendString(b, dg.Group)
	b = appendString(b, string(dg.Extra))
	b = appendString(b, dg.Reason)
	b = binary.AppendVarint(b, nanos(dg.First))
	b = binary.AppendVarint(b, nanos(dg.Last))
	b = binary.AppendUvarint(b, uint64(len(dg.Events)))
	for i, e := range dg.Events {
		b = appendEntry(b, entry{DigestEvent: e, bodyID: r.bodyIDs[i]})
	}
	return b
}

// entry is an event of a digest as stored: without its body, with the id
// of the body.
type entry struct {
	store.DigestEvent
	bodyID uint64
}

// appendEntry appends the binary form of e.
func appendEntry(b []byte, e entry) []byte {
	for _, s := range []string{e.EventID, e.Status, e.Query} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, nanos(e.ReceivedAt))
	return binary.AppendUvarint(b, e.bodyID)
}

// entry reads what appendEntry wrote.
func (d *decoder) entry() entry {
	var e entry
	for _, s := range []*string{&e.EventID, &e.Status, &e.Query} {
		*s = d.string()
	}
	e.ReceivedAt = fromNanos(d.varint())
	e.bodyID = d.uvarint()
	return e
}

// decodeEntry parses an entry of the joined bucket.
func decodeEntry(v []byte) (entry, error) {
	d := decoder{b: v}
	e := d.entry()
	if d.err != nil || len(d.b) != 0 {
		return entry{}, fmt.Errorf("decode digest entry: %w", errCorrupt)
	}
	return e, nil
}

// decodeRecord parses a record stored under id. It copies every string, so
// the result outlives the transaction.
func decodeRecord(id uint64, v []byte) (record, error) {
	d := decoder{b: v}
	ver := d.byte()
	if ver != formatVersion && ver != formatVersionV2 && ver != formatVersionV1 {
		return record{}, fmt.Errorf("decode job %d: version %d: %w", id, ver, errCorrupt)
	}
	r := record{Job: store.Job{ID: id}}
	j := &r.Job
	r.bodyID = d.uvarint()
	if ver == formatVersionV1 {
		_ = d.uvarint() // the id of the dead letter an on_dead notice was about
	}
	j.Attempts = int(d.uvarint())
	for _, t := range []*time.Time{&j.ReceivedAt, &j.FirstAt, &j.NextAt, &j.DeadAt} {
		*t = fromNanos(d.varint())
	}
	for _, s := range []*string{&j.EventID, &j.Status, &j.Rule, &j.Notifier, &j.WebhookID, &j.Query, &j.LastError} {
		*s = d.string()
	}
	if ver != formatVersionV1 {
		if extra := d.string(); extra != "" {
			j.Extra = []byte(extra)
		}
	}
	if ver == formatVersion {
		j.Key = d.string()
		if d.byte() == 1 {
			dg := &store.Digest{Group: d.string()}
			if extra := d.string(); extra != "" {
				dg.Extra = []byte(extra)
			}
			dg.Reason = d.string()
			dg.First, dg.Last = fromNanos(d.varint()), fromNanos(d.varint())
			n := d.uvarint()
			if n > uint64(len(d.b)) { // each entry takes several bytes
				return record{}, fmt.Errorf("decode job %d: %w", id, errCorrupt)
			}
			for range n {
				e := d.entry()
				dg.Events = append(dg.Events, e.DigestEvent)
				r.bodyIDs = append(r.bodyIDs, e.bodyID)
			}
			j.Digest = dg
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return record{}, fmt.Errorf("decode job %d: %w", id, errCorrupt)
	}
	return r, nil
}

// appendString appends a uvarint length and the bytes of s.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the parts of a record, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// beID decodes an 8-byte big-endian id key.
func beID(k []byte) uint64 {
	if len(k) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k)
}
