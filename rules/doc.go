// Package rules compiles the rules tables of the config, indexes them, and
// matches events against them (DESIGN §3): kind, status (with `terminal`),
// model and deployment globs, query globs and `when` expressions (expr-lang,
// compiled against replicate.Event at load). It also explains, in words, the
// first condition a rule fails, for `hooknote test`.
//
// Matching is pure and allocation-free for rules without `when`, so intake
// can run it on every webhook. It imports config (the rule sections and
// their error type) and replicate (the event); nothing else of hooknote.
package rules
