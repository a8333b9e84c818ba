// Package config reads hooknote's TOML config file (DESIGN §3): it expands
// ${VAR} and reads *_file secrets, decodes every key strictly (unknown keys
// are errors), fills in defaults, and validates values and the references
// between sections. Every problem is an *Error placed at file:line and key
// path, and all of them are reported at once.
//
// What it returns is data: a File, with each notifier table kept for its
// notifier package to decode. Building notifiers, compiling rules and
// templates is the engine's work (package relay). config imports only the
// notifiers contract (for Secret); it knows no rule, template, event or
// store.
package config
