// Command fsynclat measures how long fdatasync takes on the disk holding a
// directory: it rewrites a 4 KiB page of a file and syncs it, n times, as a
// bbolt commit does (twice per commit), and prints the median, p90, p99
// and max.
//
//	fsynclat -dir bench/.run -n 500
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "directory on the disk to measure")
	n := flag.Int("n", 500, "number of write+fdatasync rounds")
	flag.Parse()
	if err := run(*dir, *n); err != nil {
		fmt.Fprintf(os.Stderr, "fsynclat: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, n int) error {
	f, err := os.CreateTemp(dir, "fsynclat-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	ds := make([]time.Duration, 0, n)
	for i := range n {
		page[0] = byte(i)
		if _, err := f.WriteAt(page, int64(i%64)*4096); err != nil {
			return err
		}
		start := time.Now()
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return fmt.Errorf("fdatasync: %w", err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[min(int(p*float64(n)), n-1)].Microseconds()) / 1000 }
	fmt.Printf("fdatasync of a 4 KiB write in %s (%d rounds): p50 %.3fms p90 %.3fms p99 %.3fms max %.3fms\n",
		filepath.Clean(dir), n, q(0.5), q(0.9), q(0.99), q(1))
	return nil
}
