package templates

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// duration returns the human form of a length of time: "350ms", "7.8s",
// "1m 24s", "2h 3m", "3d 4h". With one argument, v is seconds (any number,
// a numeric string, or a time.Duration). With two, they are the start and
// end times of a span (time.Time or RFC 3339 strings). A zero, negative,
// missing or unreadable length gives "", so that {{ with duration … }} and
// default can skip it.
func duration(v any, end ...any) string {
	var secs float64
	switch len(end) {
	case 0:
		secs = seconds(v)
	case 1:
		from, to := toTime(v), toTime(end[0])
		if from.IsZero() || to.IsZero() {
			return ""
		}
		secs = to.Sub(from).Seconds()
	default:
		return ""
	}
	if math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0 {
		return ""
	}
	return humanSeconds(secs)
}

// humanSeconds formats a positive number of seconds.
func humanSeconds(secs float64) string {
	if secs < 1 {
		if ms := math.Round(secs * 1000); ms >= 1 {
			return fmt.Sprintf("%.0fms", ms)
		}
		return "<1ms"
	}
	if tenths := math.Round(secs * 10); tenths < 600 {
		return strconv.FormatFloat(tenths/10, 'f', -1, 64) + "s"
	}
	total := int64(math.Round(secs))
	switch d, h, m, s := total/86400, total/3600%24, total/60%60, total%60; {
	case total < 3600:
		return fmt.Sprintf("%dm %ds", m, s)
	case total < 86400:
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		return fmt.Sprintf("%dd %dh", d, h)
	}
}

// seconds reads a number of seconds; NaN when v is not one.
func seconds(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case time.Duration:
		return x.Seconds()
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return math.NaN()
		}
		return f
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}

// toTime reads a time.Time, a *time.Time or an RFC 3339 string; anything
// else is the zero time.
func toTime(v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case *time.Time:
		if x != nil {
			return *x
		}
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err == nil {
			return t
		}
	}
	return time.Time{}
}

// formatTime formats t in UTC with a Go layout ("2006-01-02 15:04 MST"). A
// zero or unreadable time gives "".
func formatTime(layout string, v any) string {
	t := toTime(v)
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}
