package migrations

import "testing"

// TestLoad: the embedded files are numbered from 1 without a gap.
func TestLoad(t *testing.T) {
	ms, err := load()
	if err != nil || len(ms) == 0 {
		t.Fatalf("load() = %d migrations, %v", len(ms), err)
	}
}
