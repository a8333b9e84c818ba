package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// layers is DESIGN §2's import table: what each package of hooknote may
// import of hooknote itself. A key ending in "/*" covers every package below
// that directory. main (the composition root) and bench may import anything.
var layers = map[string][]string{
	"replicate": {},
	"store":     {},
	"notifiers": {},
	"config":    {"notifiers"},
	"rules":     {"config", "replicate"},
	"templates": {"replicate"},
	"relay": {"config", "rules", "replicate", "templates", "store", "notifiers",
		"relay/body", "relay/logsample", "relay/metrics", "relay/retry"},
	// relay's own rooms: the retry policy, the metrics, bounded body
	// reads, log sampling.
	"relay/retry":     {"config", "notifiers", "store"},
	"relay/metrics":   {"store"},
	"relay/body":      {},
	"relay/logsample": {},
	"store/*":         {"store"},
	// store/postgres's schema, a room of its own.
	"store/postgres":            {"store", "store/postgres/migrations"},
	"store/postgres/migrations": {},
	"notifiers/*":               {"notifiers"},
}

// TestLayering keeps imports flowing one way (DESIGN §2, STYLE 1): every
// package's direct imports of hooknote are in its row of the table, so
// the closure holds too (relay never reaches a store backend or a concrete
// notifier; a notifier never reaches rules or the store).
func TestLayering(t *testing.T) {
	const mod = "github.com/hooknote/hooknote"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], mod), "/")
		allow, ok := allowedImports(pkg)
		if !ok {
			continue // main, bench: may import anything
		}
		checked++
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, mod+"/")
			if ours && !slices.Contains(allow, dep) {
				t.Errorf("%s imports %s; DESIGN §2 allows %v", pkg, dep, allow)
			}
		}
	}
	if checked < len(layers) {
		t.Errorf("checked %d packages, want at least %d: is the table stale?", checked, len(layers))
	}
}

// allowedImports returns the row of layers for pkg: its own, else the
// nearest "dir/*" above it.
func allowedImports(pkg string) ([]string, bool) {
	if allow, ok := layers[pkg]; ok {
		return allow, true
	}
	for dir := pkg; strings.Contains(dir, "/"); {
		dir = dir[:strings.LastIndex(dir, "/")]
		if allow, ok := layers[dir+"/*"]; ok {
			return allow, true
		}
	}
	return nil, false
}

// Size limits (STYLE): no file of code over maxFileLines lines, no package
// over maxPackageLines (tests not counted): a room that outgrows them is
// split, not stretched.
const (
	maxFileLines    = 400
	maxPackageLines = 2500
)

// TestSizes holds the size limits for every package of the module.
func TestSizes(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.Dir}} {{join .GoFiles " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		total := 0
		for _, f := range fields[1:] {
			b, err := os.ReadFile(filepath.Join(fields[0], f))
			if err != nil {
				t.Fatal(err)
			}
			n := bytes.Count(b, []byte("\n"))
			if n > maxFileLines {
				t.Errorf("%s/%s: %d lines, over %d", fields[0], f, n, maxFileLines)
			}
			total += n
		}
		if total > maxPackageLines {
			t.Errorf("%s: %d lines of code, over %d", fields[0], total, maxPackageLines)
		}
	}
}
