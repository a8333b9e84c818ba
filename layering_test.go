package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers is DESIGN §2's import table: what each package of hooknote may
// import of hooknote itself. A key ending in "/*" covers every package below
// that directory. main (the composition root) and bench may import anything.
var layers = map[string][]string{
	"replicate":   {},
	"store":       {},
	"notifiers":   {},
	"config":      {"notifiers"},
	"rules":       {"config", "replicate"},
	"templates":   {"replicate"},
	"relay":       {"config", "rules", "replicate", "templates", "store", "notifiers"},
	"store/*":     {"store"},
	"notifiers/*": {"notifiers"},
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
