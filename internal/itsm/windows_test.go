package itsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowOccurrences(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	// Sundays 03:00-05:00 in Paris, from Sunday 7 March 2027 (CET, UTC+1);
	// daylight saving starts on 28 March 2027 (CEST, UTC+2).
	sunday := Window{Start: ts("2027-03-07T02:00:00Z"), End: ts("2027-03-07T04:00:00Z"), Repeat: RepeatWeekly, Location: paris}
	nightly := Window{Start: ts("2027-01-01T23:00:00Z"), End: ts("2027-01-02T01:00:00Z"), Repeat: RepeatDaily, Location: time.UTC,
		Until: ts("2027-01-05T00:00:00Z")}
	once := Window{Start: ts("2027-12-20T00:00:00Z"), End: ts("2028-01-03T00:00:00Z"), Repeat: RepeatNone}
	cases := []struct {
		name     string
		w        Window
		from, to string
		want     []string // starts, RFC 3339 UTC
	}{
		{"weekly before its start", sunday, "2027-02-01T00:00:00Z", "2027-03-08T00:00:00Z", []string{"2027-03-07T02:00:00Z"}},
		{"weekly keeps its wall-clock time across daylight saving", sunday, "2027-03-20T00:00:00Z", "2027-04-05T00:00:00Z",
			[]string{"2027-03-21T02:00:00Z", "2027-03-28T01:00:00Z", "2027-04-04T01:00:00Z"}},
		{"weekly, a question inside an occurrence", sunday, "2027-03-14T02:30:00Z", "2027-03-14T03:00:00Z", []string{"2027-03-14T02:00:00Z"}},
		{"weekly, between occurrences", sunday, "2027-03-15T00:00:00Z", "2027-03-20T00:00:00Z", nil},
		{"daily across midnight", nightly, "2027-01-03T00:30:00Z", "2027-01-03T23:30:00Z", []string{"2027-01-02T23:00:00Z", "2027-01-03T23:00:00Z"}},
		{"daily until its end", nightly, "2027-01-04T00:00:00Z", "2027-01-10T00:00:00Z", []string{"2027-01-03T23:00:00Z", "2027-01-04T23:00:00Z"}},
		{"once, overlapping", once, "2027-12-31T22:00:00Z", "2028-01-01T02:00:00Z", []string{"2027-12-20T00:00:00Z"}},
		{"once, touching its end only", once, "2028-01-03T00:00:00Z", "2028-01-03T02:00:00Z", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, o := range c.w.Occurrences(ts(c.from), ts(c.to)) {
				got = append(got, o.Start.Format(time.RFC3339))
				assert.Equal(t, c.w.End.Sub(c.w.Start), o.End.Sub(o.Start), "every occurrence lasts as long as the first")
			}
			assert.Equal(t, c.want, got)
		})
	}
	assert.True(t, sunday.Covers(ts("2027-03-28T01:30:00Z"), ts("2027-03-28T02:45:00Z")), "03:30-04:45 Paris time, summer time")
	assert.False(t, sunday.Covers(ts("2027-03-28T02:30:00Z"), ts("2027-03-28T03:30:00Z")), "it ends at 05:00 Paris time, 03:00 UTC")
	assert.False(t, sunday.Covers(ts("2027-03-07T01:00:00Z"), ts("2027-03-07T03:00:00Z")), "starting before it")
	next, ok := sunday.Next(ts("2027-03-08T00:00:00Z"))
	require.True(t, ok)
	assert.Equal(t, ts("2027-03-14T02:00:00Z"), next.Start)
	_, ok = nightly.Next(ts("2027-02-01T00:00:00Z"))
	assert.False(t, ok, "a window past its end has no next occurrence")
	long := Window{Start: ts("2027-01-01T00:00:00Z"), End: ts("2027-01-01T01:00:00Z"), Repeat: RepeatDaily}
	assert.Len(t, long.Occurrences(ts("2027-01-01T00:00:00Z"), ts("2037-01-01T00:00:00Z")), maxOccurrences, "bounded")
}

func TestWindowConflicts(t *testing.T) {
	db, app, other := store.ID("db"), store.ID("app"), store.ID("other")
	freeze := Window{ID: "w1", Name: "Year-end freeze", Type: WindowBlackout, Start: ts("2027-12-20T00:00:00Z"), End: ts("2028-01-03T00:00:00Z"), Repeat: RepeatNone}
	dbFreeze := Window{ID: "w2", Name: "DB audit", Type: WindowBlackout, Start: ts("2027-06-01T00:00:00Z"), End: ts("2027-06-02T00:00:00Z"), Repeat: RepeatNone, CIs: []store.ID{db}}
	dbSunday := Window{ID: "w3", Name: "DB Sundays", Type: WindowMaintenance, Start: ts("2027-03-07T01:00:00Z"), End: ts("2027-03-07T05:00:00Z"), Repeat: RepeatWeekly, Location: time.UTC, CIs: []store.ID{db}}
	dbNights := Window{ID: "w4", Name: "DB nights", Type: WindowMaintenance, Start: ts("2027-03-01T22:00:00Z"), End: ts("2027-03-02T02:00:00Z"), Repeat: RepeatDaily, Location: time.UTC, CIs: []store.ID{db, other}}
	all := []Window{freeze, dbFreeze, dbSunday, dbNights}
	type got struct {
		Kind, Name string
		CIs        []store.ID
	}
	cases := []struct {
		name       string
		cis        []store.ID
		start, end string
		want       []got
	}{
		{"inside a maintenance window of its CI", []store.ID{db}, "2027-03-14T02:00:00Z", "2027-03-14T03:00:00Z", nil},
		{"inside the other maintenance window of its CI", []store.ID{db}, "2027-03-10T23:00:00Z", "2027-03-11T01:00:00Z", nil},
		{"outside both", []store.ID{db}, "2027-03-10T12:00:00Z", "2027-03-10T13:00:00Z",
			[]got{{"outside_maintenance_window", "DB Sundays", []store.ID{db}}, {"outside_maintenance_window", "DB nights", []store.ID{db}}}},
		{"a CI without maintenance windows is free", []store.ID{app}, "2027-03-10T12:00:00Z", "2027-03-10T13:00:00Z", nil},
		{"a global blackout applies to every CI", []store.ID{app}, "2027-12-31T12:00:00Z", "2027-12-31T13:00:00Z",
			[]got{{"blackout", "Year-end freeze", []store.ID{app}}}},
		{"a global blackout applies to a change without CIs", nil, "2027-12-31T12:00:00Z", "2027-12-31T13:00:00Z",
			[]got{{"blackout", "Year-end freeze", nil}}},
		{"a blackout of another CI does not", []store.ID{app}, "2027-06-01T12:00:00Z", "2027-06-01T13:00:00Z", nil},
		{"a blackout of one of its CIs does", []store.ID{app, db}, "2027-06-01T12:00:00Z", "2027-06-01T13:00:00Z",
			[]got{{"blackout", "DB audit", []store.ID{db}}, {"outside_maintenance_window", "DB Sundays", []store.ID{db}}, {"outside_maintenance_window", "DB nights", []store.ID{db}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out []got
			for _, cf := range windowConflicts(all, c.cis, ts(c.start), ts(c.end)) {
				out = append(out, got{cf.Kind, cf.Number, cf.CIs})
			}
			assert.Equal(t, c.want, out)
		})
	}
	cs := windowConflicts(all, []store.ID{db}, ts("2027-03-10T12:00:00Z"), ts("2027-03-10T13:00:00Z"))
	require.Len(t, cs, 2)
	assert.Equal(t, ts("2027-03-14T01:00:00Z"), cs[0].Start, "a maintenance conflict names the window's next occurrence")
	assert.Equal(t, ts("2027-03-10T22:00:00Z"), cs[1].Start)
}

func TestCheckWindowAttributes(t *testing.T) {
	base := func(extra store.Attributes) store.Attributes {
		a := store.Attributes{"name": "w", "type": "maintenance", "start_at": ts("2027-03-07T01:00:00Z"), "end_at": ts("2027-03-07T05:00:00Z")}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	cases := []struct {
		name  string
		a     store.Attributes
		field string
	}{
		{"valid", base(nil), ""},
		{"valid weekly in Paris", base(store.Attributes{"recurrence": "weekly", "time_zone": "Europe/Paris", "until": ts("2028-01-01T00:00:00Z")}), ""},
		{"no end", store.Attributes{"start_at": ts("2027-03-07T01:00:00Z")}, "attributes.start_at"},
		{"end before start", base(store.Attributes{"end_at": ts("2027-03-07T00:00:00Z")}), "attributes.end_at"},
		{"a daily window longer than a day", base(store.Attributes{"recurrence": "daily", "end_at": ts("2027-03-08T02:00:00Z")}), "attributes.end_at"},
		{"unknown time zone", base(store.Attributes{"time_zone": "Mars/Olympus"}), "attributes.time_zone"},
		{"until before start", base(store.Attributes{"recurrence": "weekly", "until": ts("2027-01-01T00:00:00Z")}), "attributes.until"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkWindowAttributes(c.a)
			if c.field == "" {
				assert.NoError(t, err)
				return
			}
			f, ok := store.FieldOf(err)
			assert.True(t, ok, "%v", err)
			assert.Equal(t, c.field, f, "%v", err)
		})
	}
}
