package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// flushChunk bounds the digests one FlushDigests transaction sends.
const flushChunk = 64

// openDigest is a digest gathering events, as stored in the digest bucket.
type openDigest struct {
	id                    uint64
	rule, notifier, group string
	extra                 []byte
	quiet, maxWait        int64 // nanoseconds
	max, count            int
	first, last           int64 // unix nanoseconds of the first and last join
	due                   int64 // as indexed in digdue; 0 when not yet indexed
}

// dueAt is when d is sent: at once when full, else when quiet or when its
// first event has waited its max wait, whichever comes first.
func (d *openDigest) dueAt() int64 {
	if d.count >= d.max {
		return d.last
	}
	return min(d.last+d.quiet, d.first+d.maxWait)
}

// reason says why d is sent.
func (d *openDigest) reason() string {
	switch {
	case d.count >= d.max:
		return "max"
	case d.first+d.maxWait <= d.last+d.quiet:
		return "max_wait"
	default:
		return "quiet"
	}
}

func (d *openDigest) encode() []byte {
	b := []byte{formatVersion}
	for _, s := range []string{d.rule, d.notifier, d.group, string(d.extra)} {
		b = appendString(b, s)
	}
	for _, n := range []int64{d.quiet, d.maxWait, int64(d.max), int64(d.count), d.first, d.last, d.due} {
		b = binary.AppendVarint(b, n)
	}
	return b
}

func decodeDigest(id uint64, v []byte) (openDigest, error) {
	d := decoder{b: v}
	if d.byte() != formatVersion {
		return openDigest{}, fmt.Errorf("decode digest %d: %w", id, errCorrupt)
	}
	o := openDigest{id: id}
	for _, s := range []*string{&o.rule, &o.notifier, &o.group} {
		*s = d.string()
	}
	if extra := d.string(); extra != "" {
		o.extra = []byte(extra)
	}
	var max, count int64
	for _, n := range []*int64{&o.quiet, &o.maxWait, &max, &count, &o.first, &o.last, &o.due} {
		*n = d.varint()
	}
	o.max, o.count = int(max), int(count)
	if d.err != nil || len(d.b) != 0 {
		return openDigest{}, fmt.Errorf("decode digest %d: %w", id, errCorrupt)
	}
	return o, nil
}

func digDueKey(due int64, id uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), sortable(due))
	return binary.BigEndian.AppendUint64(k, id)
}

// getDigest reads open digest id.
func (t *txn) getDigest(id uint64) (openDigest, error) {
	v := t.digest.Get(itob(id))
	if v == nil {
		return openDigest{}, fmt.Errorf("digest %d: %w", id, errCorrupt)
	}
	return decodeDigest(id, v)
}

// putDigest writes d and indexes it by its due time.
func (t *txn) putDigest(d *openDigest) error {
	due := d.dueAt()
	if d.due != due {
		if d.due != 0 {
			if err := t.digDue.Delete(digDueKey(d.due, d.id)); err != nil {
				return err
			}
		}
		if err := t.digDue.Put(digDueKey(due, d.id), nil); err != nil {
			return fmt.Errorf("put digest %d due: %w", d.id, err)
		}
		d.due = due
	}
	if err := t.digest.Put(itob(d.id), d.encode()); err != nil {
		return fmt.Errorf("put digest %d: %w", d.id, err)
	}
	return nil
}

// closeDigest deletes d, its group's entry and its due entry (not its
// events).
func (t *txn) closeDigest(d *openDigest) error {
	for _, del := range []struct {
		b *bbolt.Bucket
		k []byte
	}{
		{t.digest, itob(d.id)},
		{t.groups, plainKey(0, d.rule, d.notifier, d.group)},
		{t.digDue, digDueKey(d.due, d.id)},
	} {
		if err := del.b.Delete(del.k); err != nil {
			return fmt.Errorf("close digest %d: %w", d.id, err)
		}
	}
	return nil
}

// join adds w's event to the open digest nj names, making it if need be,
// after taking the event out of any open digest of the same rule and
// notifier; bodyID is w's body, which the entry refers to. A digest that
// is full (not yet sent by FlushDigests) is sent first and a new one
// started. It returns how the counts changed.
func (t *txn) join(w *store.Webhook, nj *store.NewJob, bodyID uint64) (delta counts, err error) {
	at := nanos(w.ReceivedAt)
	member := plainKey(0, nj.Rule, nj.Notifier, w.EventID)
	if ek := t.member.Get(member); ek != nil {
		closed, err := t.leave(bytes.Clone(ek))
		if err != nil {
			return counts{}, err
		}
		delta.digests -= closed
	}
	group := plainKey(0, nj.Rule, nj.Notifier, nj.Digest.Group)
	var d openDigest
	found := false
	if v := t.groups.Get(group); v != nil {
		if d, err = t.getDigest(beID(v)); err != nil {
			return counts{}, err
		}
		found = true
		if d.count >= d.max { // full, and not sent yet: send it now, start another
			if _, err := t.send(&d, at); err != nil {
				return counts{}, err
			}
			delta.digests--
			delta.pending++
			found = false
		}
	}
	if !found {
		id, err := t.digest.NextSequence()
		if err != nil {
			return counts{}, fmt.Errorf("next digest id: %w", err)
		}
		j := nj.Digest
		d = openDigest{
			id: id, rule: nj.Rule, notifier: nj.Notifier, group: j.Group, extra: j.Extra,
			quiet: int64(j.Quiet), maxWait: int64(j.MaxWait), max: max(j.Max, 1), first: at, last: at,
		}
		if err := t.groups.Put(group, itob(id)); err != nil {
			return counts{}, fmt.Errorf("put digest group: %w", err)
		}
		delta.digests++
	}
	seq, err := t.joined.NextSequence()
	if err != nil {
		return counts{}, fmt.Errorf("next digest entry: %w", err)
	}
	ek := binary.BigEndian.AppendUint64(itob(d.id), seq)
	e := entry{bodyID: bodyID, DigestEvent: store.DigestEvent{EventID: w.EventID, Status: w.Status, Query: w.Query, ReceivedAt: w.ReceivedAt}}
	if err := t.joined.Put(ek, appendEntry(nil, e)); err != nil {
		return counts{}, fmt.Errorf("put digest entry: %w", err)
	}
	if err := t.member.Put(member, ek); err != nil {
		return counts{}, fmt.Errorf("put digest member: %w", err)
	}
	d.count++
	d.last = max(d.last, at)
	return delta, t.putDigest(&d)
}

// leave deletes the digest entry ek and its body reference; a digest left
// with no event is closed (closed is then 1).
func (t *txn) leave(ek []byte) (closed int64, err error) {
	v := t.joined.Get(ek)
	if v == nil || len(ek) != 16 {
		return 0, fmt.Errorf("digest entry %x: %w", ek, errCorrupt)
	}
	e, err := decodeEntry(v)
	if err != nil {
		return 0, err
	}
	if err := t.joined.Delete(ek); err != nil {
		return 0, err
	}
	if err := t.deref(e.bodyID); err != nil {
		return 0, err
	}
	d, err := t.getDigest(beID(ek[:8]))
	if err != nil {
		return 0, err
	}
	if d.count--; d.count > 0 {
		return 0, t.putDigest(&d)
	}
	return 1, t.closeDigest(&d)
}

// send closes d and enqueues the job carrying it, due at now.
func (t *txn) send(d *openDigest, now int64) (reason string, err error) {
	var events []store.DigestEvent
	var ids []uint64
	prefix := itob(d.id)
	c := t.joined.Cursor()
	var keys [][]byte
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		e, err := decodeEntry(v)
		if err != nil {
			return "", err
		}
		events = append(events, e.DigestEvent)
		ids = append(ids, e.bodyID)
		keys = append(keys, bytes.Clone(k))
	}
	for i, k := range keys {
		if err := t.joined.Delete(k); err != nil {
			return "", err
		}
		if err := t.member.Delete(plainKey(0, d.rule, d.notifier, events[i].EventID)); err != nil {
			return "", err
		}
	}
	if err := t.closeDigest(d); err != nil {
		return "", err
	}
	reason = d.reason()
	r := record{bodyIDs: ids, Job: store.Job{
		Rule: d.rule, Notifier: d.notifier,
		ReceivedAt: fromNanos(d.last), FirstAt: fromNanos(now), NextAt: fromNanos(now),
		Digest: &store.Digest{
			Group: d.group, Extra: d.extra, Reason: reason,
			First: fromNanos(d.first), Last: fromNanos(d.last), Events: events,
		},
	}}
	return reason, t.addJob(&r)
}

// FlushDigests sends the open digests due at or before now; see
// store.Store.
func (d *DB) FlushDigests(ctx context.Context, now time.Time) (map[string]int, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	sent := map[string]int{}
	for {
		chunk := map[string]int{}
		n := 0
		err := d.submit(ctx, func(t *txn) error {
			clear(chunk)
			n = 0
			c := t.digDue.Cursor()
			var due []uint64
			for k, _ := c.First(); k != nil && len(due) < flushChunk; k, _ = c.Next() {
				if len(k) != 16 || unsortable(binary.BigEndian.Uint64(k)) > nanos(now) {
					break
				}
				due = append(due, binary.BigEndian.Uint64(k[8:]))
			}
			for _, id := range due {
				o, err := t.getDigest(id)
				if err != nil {
					return err
				}
				reason, err := t.send(&o, nanos(now))
				if err != nil {
					return err
				}
				chunk[reason]++
				n++
			}
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("flush digests: %w", err)
		}
		for r, c := range chunk {
			sent[r] += c
		}
		d.count(counts{pending: int64(n), digests: -int64(n)})
		if n < flushChunk {
			return sent, nil
		}
	}
}

// NextDigest returns when the earliest open digest falls due; see
// store.Store.
func (d *DB) NextDigest(ctx context.Context) (time.Time, bool, error) {
	leave, err := d.enter(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	defer leave()
	var at int64
	ok := false
	err = d.bolt.View(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket([]byte(bucketDigDue)).Cursor().First()
		if len(k) == 16 {
			at, ok = unsortable(binary.BigEndian.Uint64(k)), true
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next digest: %w", err)
	}
	return fromNanos(at), ok, nil
}
