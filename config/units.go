package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Duration is a time.Duration written in TOML as a string ("30s", "24h").
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"30s\", \"5m\", \"24h\")", b)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Size is a byte count written in TOML as a string ("25MiB", "512KB", "1024").
type Size int64

// sizeUnit splits a size's unit suffix off: "25MiB" → "25", 1<<20. No
// suffix is bytes.
func sizeUnit(text string) (num string, mult int64) {
	for _, u := range [...]struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"B", 1},
	} {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			return strings.TrimSpace(n), u.mult
		}
	}
	return text, 1
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	num, mult := sizeUnit(strings.TrimSpace(string(b)))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("invalid size %q (use e.g. \"25MiB\", \"512KiB\")", b)
	}
	*s = Size(n * mult)
	return nil
}

// Rate paces sends: "1/s", "30/m", "100/h". The zero Rate is unlimited.
type Rate struct {
	Limit rate.Limit
	text  string
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	num, per, ok := strings.Cut(text, "/")
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return fmt.Errorf("invalid rate %q (use e.g. \"1/s\", \"30/m\")", b)
	}
	var unit time.Duration
	switch per {
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	default:
		return fmt.Errorf("invalid rate %q: the unit after / must be s, m or h", b)
	}
	r.Limit = rate.Limit(n / unit.Seconds())
	r.text = text
	return nil
}

// String returns the rate as written, or "unlimited".
func (r Rate) String() string {
	if r.text == "" {
		return "unlimited"
	}
	return r.text
}
