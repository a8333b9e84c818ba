package bolt

import (
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
		a, b := string(dueKey(times[i-1], 9)), string(dueKey(times[i], 1))
		if a >= b {
			t.Errorf("dueKey(%d) >= dueKey(%d), want less", times[i-1], times[i])
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
