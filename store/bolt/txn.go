package bolt

import (
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/hooknote/hooknote/store"
)

// txn holds the buckets of one transaction and the row-level operations
// the store.Store methods are made of.
type txn struct {
	seen, jobs, due, bodies, refs, dead *bbolt.Bucket
	keys, live                          *bbolt.Bucket
	digest, groups, digDue, joined      *bbolt.Bucket
	member                              *bbolt.Bucket
}

func openTxn(tx *bbolt.Tx) *txn {
	b := func(name string) *bbolt.Bucket { return tx.Bucket([]byte(name)) }
	return &txn{
		seen: b(bucketSeen), jobs: b(bucketJobs), due: b(bucketDue), bodies: b(bucketBodies),
		refs: b(bucketRefs), dead: b(bucketDead), keys: b(bucketKeys), live: b(bucketLive),
		digest: b(bucketDigest), groups: b(bucketGroups), digDue: b(bucketDigDue),
		joined: b(bucketJoined), member: b(bucketMember),
	}
}

// recorded reports whether the dedupe key is recorded and not expired at at.
func (t *txn) recorded(key []byte, at int64) bool {
	v := t.seen.Get(key)
	return v != nil && decodeNanos(v) > at
}

// mark records the dedupe key until exp, never shortening a later expiry.
// A nil key is not recorded.
func (t *txn) mark(key []byte, exp int64) error {
	if key == nil {
		return nil
	}
	if v := t.seen.Get(key); v != nil && decodeNanos(v) >= exp {
		return nil
	}
	if err := t.seen.Put(key, encodeNanos(exp)); err != nil {
		return fmt.Errorf("put dedupe key: %w", err)
	}
	return nil
}

// get reads the record id from bucket b (jobs or dead); store.ErrNotFound if
// absent.
func (t *txn) get(b *bbolt.Bucket, id uint64) (record, error) {
	v := b.Get(itob(id))
	if v == nil {
		return record{}, store.ErrNotFound
	}
	return decodeRecord(id, v)
}

// addJob gives r a new id and writes it as pending.
func (t *txn) addJob(r *record) error {
	id, err := t.jobs.NextSequence()
	if err != nil {
		return fmt.Errorf("next job id: %w", err)
	}
	r.ID = id
	return t.putJob(r)
}

// putJob writes r as pending, due at r.NextAt: its due entry holds its
// Key, which the keys bucket orders.
func (t *txn) putJob(r *record) error {
	if err := t.jobs.Put(itob(r.ID), r.encode()); err != nil {
		return fmt.Errorf("put job %d: %w", r.ID, err)
	}
	if err := t.due.Put(dueKey(r.Notifier, nanos(r.NextAt), r.ID), []byte(r.Key)); err != nil {
		return fmt.Errorf("put job %d due: %w", r.ID, err)
	}
	if r.Key != "" {
		if err := t.keys.Put(keyedKey(r.Key, r.ID), nil); err != nil {
			return fmt.Errorf("put job %d key: %w", r.ID, err)
		}
	}
	return nil
}

// deleteJob removes the pending job r (not its body references).
func (t *txn) deleteJob(r *record) error {
	if err := t.jobs.Delete(itob(r.ID)); err != nil {
		return fmt.Errorf("delete job %d: %w", r.ID, err)
	}
	if err := t.due.Delete(dueKey(r.Notifier, nanos(r.NextAt), r.ID)); err != nil {
		return fmt.Errorf("delete job %d due: %w", r.ID, err)
	}
	if r.Key != "" {
		if err := t.keys.Delete(keyedKey(r.Key, r.ID)); err != nil {
			return fmt.Errorf("delete job %d key: %w", r.ID, err)
		}
	}
	return nil
}

// derefAll drops r's references to bodies: its webhook's, or its digest's
// events'.
func (t *txn) derefAll(r *record) error {
	if err := t.deref(r.bodyID); err != nil {
		return err
	}
	for _, id := range r.bodyIDs {
		if err := t.deref(id); err != nil {
			return err
		}
	}
	return nil
}

// newBody stores a body with no references and returns its id.
func (t *txn) newBody(body []byte) (uint64, error) {
	id, err := t.bodies.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("next body id: %w", err)
	}
	if body == nil {
		body = []byte{}
	}
	if err := t.bodies.Put(itob(id), body); err != nil {
		return 0, fmt.Errorf("put body %d: %w", id, err)
	}
	return id, nil
}

// refCount returns the number of jobs and dead letters using body id.
func (t *txn) refCount(id uint64) uint64 {
	n, _ := binary.Uvarint(t.refs.Get(itob(id)))
	return n
}

// setRefs sets the reference count of body id.
func (t *txn) setRefs(id, n uint64) error {
	if err := t.refs.Put(itob(id), binary.AppendUvarint(nil, n)); err != nil {
		return fmt.Errorf("put body %d refs: %w", id, err)
	}
	return nil
}

// ref adds a reference to body id.
func (t *txn) ref(id uint64) error {
	return t.setRefs(id, t.refCount(id)+1)
}

// deref drops a reference to body id, deleting the body with its last one.
func (t *txn) deref(id uint64) error {
	if id == 0 {
		return nil
	}
	if n := t.refCount(id); n > 1 {
		return t.setRefs(id, n-1)
	}
	if err := t.refs.Delete(itob(id)); err != nil {
		return fmt.Errorf("delete body %d refs: %w", id, err)
	}
	if err := t.bodies.Delete(itob(id)); err != nil {
		return fmt.Errorf("delete body %d: %w", id, err)
	}
	return nil
}
