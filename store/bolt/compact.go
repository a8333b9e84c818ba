package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
)

// A file is compacted when at least compactMinSize and more than
// compactFreeShare of it is free pages: a backlog came and drained, and
// bbolt only reuses freed pages, it never gives them back. Compacting
// copies what is live into a new file and renames it over the old one.
const (
	compactMinSize   = 32 << 20
	compactFreeShare = 0.5
	compactTxSize    = 16 << 20 // bytes copied per transaction
)

// compactor compacts the file when kicked (the queue has just emptied)
// until Close.
func (d *DB) compactor() {
	defer close(d.compactorDone)
	for {
		select {
		case <-d.quit:
			return
		case <-d.compactKick:
			if err := d.compactIfDrained(context.Background()); err != nil {
				d.log.Error("compact state file", "error", err)
			}
		}
	}
}

// drained is called when a committed operation leaves no pending job: a
// backlog may have just drained, so the compactor looks at the file.
func (d *DB) drained() {
	select {
	case d.compactKick <- struct{}{}:
	default:
	}
}

// compactIfDrained compacts the file when the queue is empty and the file is
// mostly free pages. Every other method waits meanwhile (the time to copy
// what is live: the dedupe keys and dead letters).
func (d *DB) compactIfDrained(ctx context.Context) error {
	if d.pending.Load() != 0 {
		return nil
	}
	// Look first under the shared lock: most times the queue empties there
	// is nothing to compact, and the exclusive lock would hold every
	// method back (while one waits for the committer) for nothing.
	leave, err := d.enter(ctx)
	if err != nil {
		return nil
	}
	worth := d.worthCompacting()
	leave()
	if !worth {
		return nil
	}
	d.closeMu.Lock()
	defer d.closeMu.Unlock()
	if d.closed || d.pending.Load() != 0 || ctx.Err() != nil || !d.worthCompacting() {
		return nil
	}
	path := d.bolt.Path()
	start := time.Now()
	before := fileSize(path)
	b, err := compactFile(d.bolt, path, d.opts)
	if b == nil {
		// The old file was closed and cannot be opened again: the store is
		// unusable; Close will say so too.
		d.closed = true
		close(d.quit)
		<-d.done
		return fmt.Errorf("compact state file: %w", err)
	}
	d.bolt = b
	if err != nil {
		d.log.Warn("compact state file: kept the file as it was", "error", err)
		return nil
	}
	d.log.Info("compacted state file", "file", path, "bytes_before", before, "bytes_after", fileSize(path), "took", time.Since(start).Round(time.Millisecond))
	// The backlog's garbage is gone with it: give the heap it took back to
	// the system now, not over the scavenger's minutes.
	debug.FreeOSMemory()
	return nil
}

// worthCompacting reports whether the file is large and mostly free pages.
func (d *DB) worthCompacting() bool {
	size := fileSize(d.bolt.Path())
	if size < compactMinSize {
		return false
	}
	free := int64(d.bolt.Stats().FreePageN) * int64(d.bolt.Info().PageSize)
	return float64(free) > compactFreeShare*float64(size)
}

// compactFile copies what is live of b (the open file at path) into a new
// file, renames it over path, and returns it open. When anything fails
// before the rename, b's file is opened again and returned with the error;
// a nil DB means neither could be opened.
func compactFile(b *bbolt.DB, path string, opts Options) (*bbolt.DB, error) {
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	err := copyLive(b, tmp)
	if cerr := b.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	nb, oerr := openBolt(path, opts)
	if oerr != nil {
		return nil, fmt.Errorf("open again after compacting: %w (compacting: %v)", oerr, err)
	}
	return nb, err
}

// copyLive writes what is live of src into a new file at dst, fsynced.
func copyLive(src *bbolt.DB, dst string) error {
	to, err := bbolt.Open(dst, 0o600, &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = bbolt.Compact(to, src, compactTxSize)
	if cerr := to.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// countEmpty reports whether b has no pending job: only then is a file
// compacted at open (a queue copied at open would slow the start for
// nothing; it is compacted once drained).
func countEmpty(b *bbolt.DB) bool {
	c, err := countRecords(b)
	return err == nil && c.pending == 0
}

// countRecords counts the pending jobs, dead letters and open digests of
// b: the store keeps the counts in memory from then on, so Stats (every
// /metrics scrape) costs nothing whatever the backlog.
func countRecords(b *bbolt.DB) (c counts, err error) {
	err = b.View(func(tx *bbolt.Tx) error {
		c.pending = int64(tx.Bucket([]byte(bucketJobs)).Stats().KeyN)
		c.dead = int64(tx.Bucket([]byte(bucketDead)).Stats().KeyN)
		c.digests = int64(tx.Bucket([]byte(bucketGroups)).Stats().KeyN)
		return nil
	})
	return c, err
}
