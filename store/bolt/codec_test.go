package bolt

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hooknote/hooknote/store"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rec  record
	}{
		{name: "zero", rec: record{Job: store.Job{ID: 1}}},
		{name: "full", rec: record{bodyID: 1 << 40, Job: store.Job{
			ID: 7, EventID: "ufawqhfynnddngldkgtslldrkq", Status: "failed", Rule: "r", Notifier: "slack",
			Extra: []byte("x"), WebhookID: "msg_2Lh9", Query: "customId=batch-7&kind=training",
			ReceivedAt: t0, FirstAt: t0.Add(time.Second), NextAt: t0.Add(time.Minute),
			Attempts: 12, LastError: "slack: 429\x00 with NUL and ünïcode", DeadAt: t0.Add(time.Hour),
		}}},
		{name: "before 1970", rec: record{bodyID: 2, Job: store.Job{ID: 9, NextAt: time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRecord(tt.rec.ID, tt.rec.encode())
			if err != nil {
				t.Fatalf("decodeRecord(encode(%+v)) = %v", tt.rec, err)
			}
			if diff := cmp.Diff(tt.rec, got, cmp.AllowUnexported(record{})); diff != "" {
				t.Errorf("decodeRecord(encode()) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeysSort(t *testing.T) {
	times := []int64{-5e18, -1, 0, 1, 5e18}
	for i := 1; i < len(times); i++ {
		a, b := string(dueKey("n", times[i-1], 9)), string(dueKey("n", times[i], 1))
		if a >= b {
			t.Errorf("dueKey(%d) >= dueKey(%d), want less", times[i-1], times[i])
		}
	}
	for _, n := range []string{"", "a", "slack", "a\xff\xff", string(make([]byte, 300))} {
		k := dueKey(n, -7, 42)
		if gn, at, id, ok := splitDueKey(k); !ok || gn != n || at != -7 || id != 42 {
			t.Errorf("splitDueKey(dueKey(%q, -7, 42)) = %q, %d, %d, %v", n, gn, at, id, ok)
		}
		if after := afterPrefix(duePrefix(n)); after != nil && string(k) >= string(after) {
			t.Errorf("afterPrefix(%q) = %x, not after %x", n, after, k)
		}
	}
	// A notifier's keys sort together: no other notifier's key falls
	// between two of them.
	var keys []string
	owner := map[string]string{}
	for _, n := range []string{"a", "ab", "b", "", "a\x00"} {
		for _, at := range []int64{-5e18, 0, 5e18} {
			k := string(dueKey(n, at, 1))
			keys, owner[k] = append(keys, k), n
		}
	}
	slices.Sort(keys)
	seen := map[string]bool{}
	for i, k := range keys {
		if n := owner[k]; i > 0 && owner[keys[i-1]] != n {
			if seen[n] {
				t.Errorf("due keys of %q are not contiguous", n)
			}
			seen[owner[keys[i-1]]] = true
		}
	}
	if a, b := string(seenKey(seenJob, "a\x00b", "c")), string(seenKey(seenJob, "a", "b\x00c")); a == b {
		t.Errorf("seenKey(%q) = seenKey(%q), want different", "a\\x00b c", "a b\\x00c")
	}
}

// FuzzDecodeRecord checks that no stored bytes make decoding panic, and
// that what decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add((&record{bodyID: 1, Job: store.Job{EventID: "e", Status: "s", NextAt: t0}}).encode())
	f.Add([]byte{formatVersion})
	f.Add(encodeV1(record{bodyID: 1, Job: store.Job{EventID: "e", Status: "s", NextAt: t0}}, 7))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(1, b)
		if err != nil {
			return
		}
		again, err := decodeRecord(1, r.encode())
		if err != nil {
			t.Fatalf("decodeRecord(encode(%+v)) = %v", r, err)
		}
		if diff := cmp.Diff(r, again, cmp.AllowUnexported(record{})); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// encodeV1 is record.encode as format version 1 wrote it: an on_dead
// notice id after the body id, and no Extra.
func encodeV1(r record, noticeID uint64) []byte {
	j := &r.Job
	b := []byte{formatVersionV1}
	b = binary.AppendUvarint(b, r.bodyID)
	b = binary.AppendUvarint(b, noticeID)
	b = binary.AppendUvarint(b, uint64(j.Attempts))
	for _, t := range []time.Time{j.ReceivedAt, j.FirstAt, j.NextAt, j.DeadAt} {
		b = binary.AppendVarint(b, nanos(t))
	}
	for _, s := range []string{j.EventID, j.Status, j.Rule, j.Notifier, j.WebhookID, j.Query, j.LastError} {
		b = appendString(b, s)
	}
	return b
}

// TestDecodeV1Record reads records written by format version 1: the
// notice id is skipped, Extra is nil; a re-encoded record is version 2.
func TestDecodeV1Record(t *testing.T) {
	tests := []struct {
		name     string
		rec      record
		noticeID uint64
	}{
		{name: "zero", rec: record{Job: store.Job{ID: 1}}},
		{name: "full notice", noticeID: 1 << 33, rec: record{bodyID: 5, Job: store.Job{
			ID: 8, EventID: "ev1", Status: "failed", Rule: "on_dead", Notifier: "ops", WebhookID: "w1",
			Query: "customId=7", ReceivedAt: t0, FirstAt: t0.Add(time.Second), NextAt: t0.Add(time.Minute),
			Attempts: 3, LastError: "timeout", DeadAt: t0.Add(time.Hour),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v1 := encodeV1(tt.rec, tt.noticeID)
			got, err := decodeRecord(tt.rec.ID, v1)
			if err != nil {
				t.Fatalf("decodeRecord(v1 %x) = %v", v1, err)
			}
			if diff := cmp.Diff(tt.rec, got, cmp.AllowUnexported(record{})); diff != "" {
				t.Errorf("decodeRecord(v1) (-want +got):\n%s", diff)
			}
			if v := got.encode()[0]; v != formatVersion {
				t.Errorf("encode() version = %d, want %d", v, formatVersion)
			}
			if _, err := decodeRecord(1, v1[:len(v1)-1]); !errors.Is(err, errCorrupt) {
				t.Errorf("decodeRecord(truncated v1) = %v, want %v", err, errCorrupt)
			}
		})
	}
	if _, err := decodeRecord(1, []byte{formatVersion + 1}); !errors.Is(err, errCorrupt) {
		t.Errorf("decodeRecord(version %d) = %v, want %v", formatVersion+1, err, errCorrupt)
	}
}
