package relay

import (
	"sync"
	"time"
)

// dueNotes tell the dispatcher, which sleeps until the next job it knows
// of, that jobs of a notifier fall due earlier: intake recorded new ones, a
// retry was scheduled, a lease ended, a dead letter was revived. The
// dispatcher then claims for that lane without asking the store about the
// others.
type dueNotes struct {
	mu  sync.Mutex
	at  map[string]time.Time // notifier → earliest time noted
	all bool                 // any notifier may have jobs due now
}

// note records that notifier has a job due at at.
func (d *dueNotes) note(notifier string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at == nil {
		d.at = map[string]time.Time{}
	}
	if cur, ok := d.at[notifier]; !ok || at.Before(cur) {
		d.at[notifier] = at
	}
}

// noteAll records that any notifier may have jobs due now.
func (d *dueNotes) noteAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.all = true
}

// take returns the notes and forgets them.
func (d *dueNotes) take() (map[string]time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, all := d.at, d.all
	d.at, d.all = nil, false
	return at, all
}

// jobsDue tells the dispatcher that notifier has a job due at at.
func (r *Relay) jobsDue(notifier string, at time.Time) {
	r.due.note(notifier, at)
	r.wakeDispatcher()
}

// anyJobsDue tells the dispatcher that any notifier may have jobs due now.
func (r *Relay) anyJobsDue() {
	r.due.noteAll()
	r.wakeDispatcher()
}
