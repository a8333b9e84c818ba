package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps imports flowing one way (DESIGN §2, STYLE 1):
// main → relay → {relay/store, notifiers, templates}; the notifier packages
// import only the contract package; nothing below main sees a concrete
// notifier.
func TestLayering(t *testing.T) {
	const mod = "github.com/hooknote/hooknote"
	allowed := map[string][]string{
		"relay":             {"relay/store", "notifiers", "templates"},
		"relay/store":       {},
		"notifiers":         {},
		"templates":         {},
		"notifiers/slack":   {"notifiers"},
		"notifiers/email":   {"notifiers"},
		"notifiers/webhook": {"notifiers"},
	}
	for pkg, allow := range allowed {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		ok := map[string]bool{mod + "/" + pkg: true}
		for _, a := range allow {
			ok[mod+"/"+a] = true
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.HasPrefix(dep, mod) && !ok[dep] {
				t.Errorf("%s imports %s; allowed: %v", pkg, strings.TrimPrefix(dep, mod+"/"), allow)
			}
		}
	}
}
