package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// RecoveryStep is where the README says what to do about a damaged state
// file; every DamagedError names it.
const RecoveryStep = `README "Recovering a damaged state file"`

// DamagedError is a state file that cannot be trusted: empty, truncated,
// or with pages that cannot be read. serve refuses to start on it (never
// silently empty, never a crash): the message is one line naming the file
// and the recovery step.
type DamagedError struct {
	Path    string
	Problem string // "is empty (0 bytes)", "is truncated: …", …
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("open store: state file %s %s; see %s", e.Path, e.Problem, RecoveryStep)
}

// bbolt's file format (go.etcd.io/bbolt/internal/common): two meta pages,
// each a 16-byte page header followed by the meta, whose checksum is the
// FNV-64a of the 56 bytes before it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSumLen     = 56
)

// meta is what checkFile reads of a meta page.
type meta struct {
	pageSize uint32
	pgid     uint64 // the high water mark: pages in use are below it
	txid     uint64
}

// checkFile looks at an existing state file before bbolt maps it. An empty
// file would be started afresh and its jobs forgotten without a word, and a
// file shorter than its meta page says would be read past its end (a
// SIGBUS crash): both are refused, as is a file whose meta pages are both
// damaged. A missing file is fine: Open creates it.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open store %q: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open store %q: %w", path, err)
	}
	size := fi.Size()
	if size == 0 {
		return &DamagedError{Path: path, Problem: "is empty (0 bytes): its jobs are gone"}
	}
	m0, ok0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, pageSize)
	var m meta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return &DamagedError{Path: path, Problem: "has no valid meta page (not a state file, or overwritten)"}
	}
	if want := int64(m.pgid) * int64(m.pageSize); size < want {
		return &DamagedError{Path: path, Problem: fmt.Sprintf("is truncated: %d bytes where its meta page says %d", size, want)}
	}
	return nil
}

// readMeta reads and validates the meta page at off.
func readMeta(f io.ReaderAt, off int64) (meta, bool) {
	var b [pageHeaderSize + metaSumLen + 8]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return meta{}, false
	}
	m := b[pageHeaderSize:]
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion || h.Sum64() != le.Uint64(m[metaSumLen:]) {
		return meta{}, false
	}
	pageSize := le.Uint32(m[8:])
	if pageSize < 1024 || pageSize > 1<<20 {
		return meta{}, false
	}
	return meta{pageSize: pageSize, pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// verifyFile reads every page of an existing state file once, read-only,
// before it is opened for writing: bbolt panics on a page it cannot parse
// and faults reading past the end of a mapped file, and opening for
// writing walks every page in a goroutine of bbolt's own, where neither can
// be recovered. Here both happen in a goroutine of ours that turns faults
// into panics (debug.SetPanicOnFault) and recovers them as a
// *DamagedError.
func verifyFile(path string, lockTimeout time.Duration) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		var b *bbolt.DB
		defer func() {
			if r := recover(); r != nil {
				if b != nil {
					_ = b.Close()
				}
				done <- &DamagedError{Path: path, Problem: fmt.Sprintf("has a page that cannot be read (%v)", r)}
			}
		}()
		var err error
		b, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			done <- fmt.Errorf("open store: state file %q is locked by another hooknote?: %w", path, err)
			return
		case err != nil:
			done <- &DamagedError{Path: path, Problem: fmt.Sprintf("cannot be opened (%v)", err)}
			return
		}
		err = verify(b, path)
		_ = b.Close()
		done <- err
	}()
	return <-done
}

// verify reads every key and value of every bucket of b.
func verify(b *bbolt.DB, path string) error {
	return b.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			return walkBucket(bk, string(name), path)
		})
	})
}

// walkBucket reads every entry of bk; job records must decode.
func walkBucket(bk *bbolt.Bucket, name, path string) error {
	decode := name == bucketJobs || name == bucketDead
	return bk.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket
			if nested := bk.Bucket(k); nested != nil {
				return walkBucket(nested, name+"/"+string(k), path)
			}
			return nil
		}
		if decode {
			if _, err := decodeRecord(beID(k), v); err != nil {
				return &DamagedError{Path: path, Problem: fmt.Sprintf("has an unreadable record in %s (%v)", name, err)}
			}
		}
		return nil
	})
}
