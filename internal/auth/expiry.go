package auth

import (
	"strconv"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// DefaultLifetime is how long a token lives when its creator does not say.
const DefaultLifetime = 90 * 24 * time.Hour

// MaxLifetime is the longest lifetime a token may be given (a token may
// also never expire, if its creator says "never").
const MaxLifetime = 10 * 365 * 24 * time.Hour

// ParseExpiry turns a token lifetime as people write it into an expiry
// time after now: "90d", "12h", "30m", a date ("2027-03-31", midnight
// UTC), an RFC 3339 time, or "never" (the zero time). Empty means
// DefaultLifetime. Errors are *store.InvalidError on field.
func ParseExpiry(field, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return now.Add(DefaultLifetime), nil
	}
	if strings.EqualFold(s, "never") {
		return time.Time{}, nil
	}
	var at time.Time
	if n, unit := s[:len(s)-1], s[len(s)-1]; unit == 'd' || unit == 'h' || unit == 'm' {
		v, err := strconv.ParseUint(n, 10, 32)
		if err == nil {
			d := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute}[unit]
			if v > uint64(MaxLifetime/d) {
				return time.Time{}, store.Invalid(field, "%q is longer than the longest lifetime, %dd", s, MaxLifetime/(24*time.Hour))
			}
			at = now.Add(time.Duration(v) * d)
		}
	}
	if at.IsZero() {
		for _, layout := range []string{time.DateOnly, time.RFC3339} {
			if t, err := time.Parse(layout, s); err == nil {
				at = t.UTC()
				break
			}
		}
	}
	if at.IsZero() {
		return time.Time{}, store.Invalid(field, "%q is not a lifetime: use a number of days, hours or minutes (90d, 12h, 30m), a date (2027-03-31), an RFC 3339 time, or never", clipString(s))
	}
	return CheckExpiry(field, at, now)
}

// CheckExpiry checks that an expiry time is after now and within
// MaxLifetime of it.
func CheckExpiry(field string, at, now time.Time) (time.Time, error) {
	switch {
	case !at.After(now):
		return time.Time{}, store.Invalid(field, "must be in the future, not %s", at.UTC().Format(time.RFC3339))
	case at.Sub(now) > MaxLifetime:
		return time.Time{}, store.Invalid(field, "must be within %dd from now", MaxLifetime/(24*time.Hour))
	}
	return at.UTC(), nil
}

func clipString(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}
