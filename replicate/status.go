package replicate

// The six statuses Replicate sends (protocol notes §4), in lifecycle order.
const (
	Starting   = "starting"
	Processing = "processing"
	Succeeded  = "succeeded"
	Failed     = "failed"
	Canceled   = "canceled"
	Aborted    = "aborted"
)

// StatusIndex returns the position of a known status in lifecycle order
// (starting 0, processing 1, succeeded 2, failed 3, canceled 4, aborted 5),
// and -1 for any other word.
func StatusIndex(status string) int {
	switch status {
	case Starting:
		return 0
	case Processing:
		return 1
	case Succeeded:
		return 2
	case Failed:
		return 3
	case Canceled:
		return 4
	case Aborted:
		return 5
	}
	return -1
}

// IsTerminal reports whether a status is final. A status hooknote does not
// know is treated as final (protocol §4: new statuses have been terminal),
// so `terminal` rules still fire for it and later stragglers are ignored.
func IsTerminal(status string) bool {
	return status != Starting && status != Processing
}

// Rank orders an event's states for a message that must never move
// backwards: starting 0, processing 1, any final status 2.
func Rank(status string) int {
	switch status {
	case Starting:
		return 0
	case Processing:
		return 1
	}
	return 2
}
