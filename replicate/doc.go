// Package replicate is the wire format of Replicate's webhooks
// (research/replicate-protocol.md): Standard Webhooks signatures (Verifier,
// Sign), the strict JSON checks every body passes, and the Event that rules
// and templates see, decoded from the checked bytes in one pass, either
// partially (what matching needs, at intake) or completely (for rendering).
// It also knows the statuses (IsTerminal, Rank), how a training is told from
// a prediction, and the sample bodies every template is rendered against.
//
// It imports nothing of hooknote: the config, rules, templates, the engine
// and the store build on it, never the other way round.
package replicate
