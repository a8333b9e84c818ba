package bolt

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hooknote/hooknote/store"
)

// benchHook returns webhook i with a 2 KiB body and one job.
func benchHook(i uint64, body []byte) store.Webhook {
	id := strconv.FormatUint(i, 10)
	w := hook("w"+id, "ev"+id, "failed", t0, "r/slack")
	w.Body = body
	return w
}

func BenchmarkEnqueueSerial(b *testing.B) {
	d := openTest(b, Options{})
	body := bytes.Repeat([]byte("x"), 2048)
	ctx := context.Background()
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		i++
		if _, err := d.Enqueue(ctx, benchHook(i, body)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueParallel(b *testing.B) {
	d := openTest(b, Options{})
	body := bytes.Repeat([]byte("x"), 2048)
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16) // 32 writers on 2 CPUs, as 32 connections would be
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Enqueue(ctx, benchHook(next.Add(1), body)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(d.commits.Load()), "req/commit")
}
