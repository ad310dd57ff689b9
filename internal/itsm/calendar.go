package itsm

import (
	"fmt"
	"strings"
	"time"
)

// Calendar is the working time an SLA clock counts: all the time (24x7),
// or working hours on some weekdays in a time zone, less holidays.
type Calendar struct {
	// Name is how targets name the calendar ("24x7", "business").
	Name string
	// AllDay counts every instant (24x7).
	AllDay bool
	// Location is the time zone the hours are in.
	Location *time.Location
	// Start and End bound the working day, as offsets from midnight
	// (Start < End, both within the day).
	Start, End time.Duration
	// Days are the working weekdays.
	Days [7]bool
	// Holidays are dates (in Location) without working time, as
	// "2006-01-02".
	Holidays map[string]bool
}

// ParseHolidays reads dates written as YYYY-MM-DD.
func ParseHolidays(dates []string) (map[string]bool, error) {
	out := make(map[string]bool, len(dates))
	for _, d := range dates {
		d = strings.TrimSpace(d)
		if _, err := time.Parse("2006-01-02", d); err != nil {
			return nil, fmt.Errorf("holiday %q: must be a date YYYY-MM-DD", d)
		}
		out[d] = true
	}
	return out, nil
}

// AllDayCalendar counts every instant.
var AllDayCalendar = Calendar{Name: "24x7", AllDay: true, Location: time.UTC}

// ParseBusinessHours reads a calendar written as "mon-fri 08:00-18:00"
// (days: a range or a comma list of mon..sun; hours: HH:MM-HH:MM) in loc.
func ParseBusinessHours(name, spec string, loc *time.Location) (Calendar, error) {
	c := Calendar{Name: name, Location: loc}
	fields := strings.Fields(strings.ToLower(spec))
	if len(fields) != 2 {
		return c, fmt.Errorf("must be days and hours, as in \"mon-fri 08:00-18:00\", got %q", spec)
	}
	days := map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	for _, part := range strings.Split(fields[0], ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, okA := days[from]
		b, okB := a, okA
		if isRange {
			b, okB = days[to]
		}
		if !okA || !okB {
			return c, fmt.Errorf("days: %q is not mon..sun or a range of them", part)
		}
		for d := a; ; d = (d + 1) % 7 {
			c.Days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(fields[1], "-")
	start, err1 := clockTime(from)
	end, err2 := clockTime(to)
	if !ok || err1 != nil || err2 != nil || start >= end {
		return c, fmt.Errorf("hours: must be HH:MM-HH:MM, the start before the end, got %q", fields[1])
	}
	c.Start, c.End = start, end
	return c, nil
}

func clockTime(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// maxCalendarDays bounds the days Add and Between walk (ten years): a
// calendar always has working time, so this is only a guard.
const maxCalendarDays = 3660

// window returns the working interval of the day that contains t, or
// false when that day has none.
func (c Calendar) window(day time.Time) (time.Time, time.Time, bool) {
	if !c.Days[day.Weekday()] || c.Holidays[day.Format("2006-01-02")] {
		return time.Time{}, time.Time{}, false
	}
	midnight := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, c.Location)
	return midnight.Add(c.Start), midnight.Add(c.End), true
}

// Add returns the instant at which d of working time has passed after t.
func (c Calendar) Add(t time.Time, d time.Duration) time.Time {
	if c.AllDay {
		return t.Add(d)
	}
	cur := t.In(c.Location)
	for i := 0; i < maxCalendarDays; i++ {
		if start, end, ok := c.window(cur); ok {
			if cur.Before(start) {
				cur = start
			}
			if left := end.Sub(cur); left > 0 {
				if d <= left {
					return cur.Add(d).UTC()
				}
				d -= left
			}
		}
		cur = time.Date(cur.Year(), cur.Month(), cur.Day()+1, 0, 0, 0, 0, c.Location)
	}
	return cur.UTC()
}

// Between returns the working time from a to b (negative when b is
// before a).
func (c Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	if c.AllDay {
		return b.Sub(a)
	}
	var total time.Duration
	cur, stop := a.In(c.Location), b.In(c.Location)
	for i := 0; i < maxCalendarDays && cur.Before(stop); i++ {
		if start, end, ok := c.window(cur); ok {
			from, to := maxTime(cur, start), minTime(stop, end)
			if from.Before(to) {
				total += to.Sub(from)
			}
		}
		cur = time.Date(cur.Year(), cur.Month(), cur.Day()+1, 0, 0, 0, 0, c.Location)
	}
	return total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
