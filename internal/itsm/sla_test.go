package itsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// 2026-12-07 is a Monday.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, time.UTC)
}

func business(t *testing.T) Calendar {
	t.Helper()
	c, err := ParseBusinessHours("business", "mon-fri 08:00-18:00", time.UTC)
	require.NoError(t, err)
	return c
}

func TestCalendarAdd(t *testing.T) {
	c := business(t)
	for _, tt := range []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"within the day", at(7, 9, 0), 2 * time.Hour, at(7, 11, 0)},
		{"to the end of the day exactly", at(7, 16, 0), 2 * time.Hour, at(7, 18, 0)},
		{"over the night", at(7, 17, 0), 2 * time.Hour, at(8, 9, 0)},
		{"before opening", at(7, 6, 0), time.Hour, at(7, 9, 0)},
		{"after closing", at(7, 20, 0), time.Hour, at(8, 9, 0)},
		{"friday over the weekend", at(11, 17, 0), 3 * time.Hour, at(14, 10, 0)},
		{"from a saturday", at(12, 10, 0), 30 * time.Minute, at(14, 8, 30)},
		{"a whole working week", at(7, 8, 0), 50 * time.Hour, at(11, 18, 0)},
		{"nothing", at(7, 9, 0), 0, at(7, 9, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.Add(tt.from, tt.d))
			assert.Equal(t, tt.d, c.Between(tt.from, tt.want), "Between is Add's inverse")
		})
	}
	assert.Equal(t, at(8, 1, 0), AllDayCalendar.Add(at(7, 17, 0), 8*time.Hour))
	assert.Equal(t, 8*time.Hour, AllDayCalendar.Between(at(7, 17, 0), at(8, 1, 0)))
	assert.Equal(t, -2*time.Hour, c.Between(at(7, 11, 0), at(7, 9, 0)))
	assert.Equal(t, time.Duration(0), c.Between(at(12, 9, 0), at(13, 17, 0)), "a weekend has no working time")

	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	p, err := ParseBusinessHours("business", "mon-fri 08:00-18:00", paris)
	require.NoError(t, err)
	assert.Equal(t, at(7, 8, 0), p.Add(at(7, 6, 0), time.Hour), "08:00 in Paris is 07:00 UTC in December")
}

// TestCalendarHolidays: a holiday has no working time; Add skips it and
// Between counts nothing on it.
func TestCalendarHolidays(t *testing.T) {
	c := business(t)
	var err error
	c.Holidays, err = ParseHolidays([]string{"2026-12-08", " 2026-12-25 "})
	require.NoError(t, err)
	assert.Equal(t, at(9, 9, 0), c.Add(at(7, 17, 0), 2*time.Hour), "Tuesday the 8th is a holiday")
	assert.Equal(t, 10*time.Hour, c.Between(at(7, 8, 0), at(9, 8, 0)), "only Monday counts")
	assert.Equal(t, at(28, 9, 0), c.Add(at(24, 17, 0), 2*time.Hour), "Christmas Friday, then the weekend")
	_, err = ParseHolidays([]string{"25/12/2026"})
	assert.Error(t, err)
	p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC, "2026-12-08")
	require.NoError(t, err)
	assert.True(t, p.Calendars["business"].Holidays["2026-12-08"])
	_, err = NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC, "tomorrow")
	assert.ErrorContains(t, err, "holidays")
}

func TestParseBusinessHours(t *testing.T) {
	c, err := ParseBusinessHours("b", "sat,sun 10:00-14:30", time.UTC)
	require.NoError(t, err)
	assert.True(t, c.Days[time.Saturday] && c.Days[time.Sunday] && !c.Days[time.Monday])
	assert.Equal(t, 10*time.Hour, c.Start)
	c, err = ParseBusinessHours("b", "fri-mon 09:00-17:00", time.UTC)
	require.NoError(t, err)
	assert.Equal(t, [7]bool{true, true, false, false, false, true, true}, c.Days, "a range over the weekend")
	for _, bad := range []string{"", "mon-fri", "mon-fry 08:00-18:00", "mon-fri 18:00-08:00", "mon-fri 8h-18h", "mon-fri 08:00-25:00"} {
		_, err := ParseBusinessHours("b", bad, time.UTC)
		assert.Error(t, err, bad)
	}
}

func TestParseSLATargets(t *testing.T) {
	p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC)
	require.NoError(t, err)
	assert.Equal(t, Target{Response: 15 * time.Minute, Resolution: 4 * time.Hour, Calendar: "24x7"}, p.Targets[0])
	assert.Equal(t, Target{Response: 24 * time.Hour, Resolution: 120 * time.Hour, Calendar: "business"}, p.Targets[4])
	for _, bad := range []string{
		"15m/4h/24x7",
		"15m/4h/24x7,30m/8h/24x7,4h/24h/business,8h/48h/business,24h/120h/lunar",
		"15m/4h/24x7,30m/8h/24x7,4h/2h/business,8h/48h/business,24h/120h/business",
		"15m/4h,30m/8h/24x7,4h/24h/business,8h/48h/business,24h/120h/business",
		"0s/4h/24x7,30m/8h/24x7,4h/24h/business,8h/48h/business,24h/120h/business",
	} {
		_, err := NewSLAPolicy(bad, DefaultBusinessHours, time.UTC)
		assert.Error(t, err, bad)
	}
}

// TestSLAClock follows incidents through their lives with an injected
// clock: the resolution clock counts working time while new or in
// progress, pauses on hold, stops when resolved and goes on when
// reopened; a priority change moves the due time; the response is met
// when the incident first leaves new.
func TestSLAClock(t *testing.T) {
	p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC)
	require.NoError(t, err)
	type step struct {
		at       time.Time
		set      store.Attributes // the write's attributes (state, priority)
		now      time.Time        // when Status is read after it
		due      *time.Time       // resolution due after the write (nil: stopped)
		elapsed  time.Duration    // at now
		breached bool
		respBr   bool
	}
	tp := func(t time.Time) *time.Time { return &t }
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"P1 around the clock, resolved in time", []step{
			{at: at(7, 22, 0), set: store.Attributes{"state": "new", "priority": int64(1)}, now: at(7, 22, 10), due: tp(at(8, 2, 0)), elapsed: 10 * time.Minute},
			{at: at(7, 22, 20), set: store.Attributes{"state": "in_progress"}, now: at(8, 1, 0), due: tp(at(8, 2, 0)), elapsed: 3 * time.Hour, respBr: true},
			{at: at(8, 1, 30), set: store.Attributes{"state": "resolved"}, now: at(9, 0, 0), due: nil, elapsed: 3*time.Hour + 30*time.Minute, respBr: true},
		}},
		{"P3 in business hours, paused on hold", []step{
			{at: at(7, 17, 0), set: store.Attributes{"state": "new", "priority": int64(3)}, now: at(7, 17, 0), due: tp(at(10, 11, 0)), elapsed: 0},
			{at: at(7, 17, 30), set: store.Attributes{"state": "on_hold"}, now: at(9, 12, 0), due: nil, elapsed: 30 * time.Minute},
			// Two days on hold count nothing; resuming moves the due time.
			{at: at(9, 12, 0), set: store.Attributes{"state": "in_progress"}, now: at(9, 12, 0), due: tp(at(11, 15, 30)), elapsed: 30 * time.Minute},
			// Past the due time unresolved: breached, time left negative.
			{at: at(9, 12, 0), set: store.Attributes{"category": "db"}, now: at(14, 9, 0), due: tp(at(11, 15, 30)), elapsed: 27*time.Hour + 30*time.Minute, breached: true},
		}},
		{"a priority raised midway keeps the time counted", []step{
			{at: at(7, 9, 0), set: store.Attributes{"state": "in_progress", "priority": int64(4)}, now: at(7, 10, 0), due: tp(at(11, 17, 0)), elapsed: time.Hour},
			{at: at(7, 10, 0), set: store.Attributes{"priority": int64(2)}, now: at(7, 10, 0), due: tp(at(7, 17, 0)), elapsed: time.Hour},
		}},
		{"reopened: the clock goes on from where it stopped", []step{
			{at: at(7, 9, 0), set: store.Attributes{"state": "in_progress", "priority": int64(2)}, now: at(7, 12, 0), due: tp(at(7, 17, 0)), elapsed: 3 * time.Hour},
			{at: at(7, 12, 0), set: store.Attributes{"state": "resolved"}, now: at(8, 12, 0), due: nil, elapsed: 3 * time.Hour},
			{at: at(8, 12, 0), set: store.Attributes{"state": "in_progress"}, now: at(8, 17, 30), due: tp(at(8, 17, 0)), elapsed: 8*time.Hour + 30*time.Minute, breached: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stored store.Attributes
			for i, s := range tt.steps {
				after := overlay(stored, s.set)
				if stored == nil {
					after["opened_at"] = s.at
				}
				sla := p.Track(stored, after, s.at)
				stored = overlay(after, sla)
				st := p.Status(stored, s.now)
				if s.due == nil {
					assert.Nil(t, st.ResolutionDueAt, "step %d: due", i)
				} else if assert.NotNil(t, st.ResolutionDueAt, "step %d: due", i) {
					assert.Equal(t, *s.due, *st.ResolutionDueAt, "step %d: due", i)
				}
				assert.Equal(t, s.elapsed, st.ResolutionElapsed, "step %d: elapsed", i)
				assert.Equal(t, st.ResolutionTarget-s.elapsed, st.ResolutionLeft, "step %d: left", i)
				assert.Equal(t, s.breached, st.ResolutionBreached, "step %d: breached", i)
				assert.Equal(t, s.respBr, st.ResponseBreached, "step %d: response breached", i)
				assert.Equal(t, stored["state"] == "on_hold", st.Paused, "step %d: paused", i)
			}
		})
	}
}
