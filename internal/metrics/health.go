package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ClassHealth is one class's CMDB health figures, as CMDBHealth exports
// them.
type ClassHealth struct {
	Class        string
	CIs          int
	Completeness float64
	Incomplete   int
	Orphans      int
	Stale        int
}

// HealthFigures are the CMDB health figures of one refresh
// (internal/health computes them; cmd/skein hands them over).
type HealthFigures struct {
	Classes        []ClassHealth
	DuplicatePairs int
	// DuplicatesCapped says the duplicate scan stopped at its budget, so
	// DuplicatePairs is a lower bound.
	DuplicatesCapped  bool
	IdentityConflicts int
	// At is when the figures were computed; RefreshDuration how long
	// that took.
	At              time.Time
	RefreshDuration time.Duration
}

// CMDBHealth exports the CMDB health figures as gauges, set by a periodic
// refresh rather than computed per scrape (a refresh reads every CI).
// Classes are model class names, a bounded set. Its methods are safe for
// concurrent use and no-ops on a nil *CMDBHealth.
type CMDBHealth struct {
	cis          *prometheus.GaugeVec
	completeness *prometheus.GaugeVec
	incomplete   *prometheus.GaugeVec
	orphans      *prometheus.GaugeVec
	stale        *prometheus.GaugeVec
	duplicates   prometheus.Gauge
	capped       prometheus.Gauge
	conflicts    prometheus.Gauge
	refreshed    prometheus.Gauge
	duration     prometheus.Gauge
	failures     prometheus.Counter

	mu      sync.Mutex
	classes map[string]bool // the classes of the last Set
}

// NewCMDBHealth creates the CMDB health gauges and registers them on reg:
//
//	skein_cmdb_cis{class}                               gauge
//	skein_cmdb_completeness_ratio{class}                gauge
//	skein_cmdb_incomplete_cis{class}                    gauge
//	skein_cmdb_orphans{class}                           gauge
//	skein_cmdb_stale_cis{class}                         gauge
//	skein_cmdb_duplicate_pairs                          gauge
//	skein_cmdb_duplicate_scan_capped                    gauge (1 when the pairs are a lower bound)
//	skein_cmdb_identity_conflicts                       gauge
//	skein_cmdb_health_refreshed_timestamp_seconds       gauge
//	skein_cmdb_health_refresh_duration_seconds          gauge
//	skein_cmdb_health_refresh_failures_total            counter
//
// Series appear with the first refresh, so a scrape before it shows no
// figures rather than zeros.
func NewCMDBHealth(reg prometheus.Registerer) (*CMDBHealth, error) {
	byClass := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "cmdb", Name: name, Help: help}, []string{"class"})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "cmdb", Name: name, Help: help})
	}
	h := &CMDBHealth{
		cis:          byClass("cis", "CIs of each class (exactly that class), retired ones aside, at the last health refresh."),
		completeness: byClass("completeness_ratio", "Share of a class's CIs that have every required and recommended attribute (0 to 1)."),
		incomplete:   byClass("incomplete_cis", "CIs of a class missing a required or recommended attribute."),
		orphans:      byClass("orphans", "CIs of a class that relationships are expected of but that have no relationship with another CI."),
		stale:        byClass("stale_cis", "CIs of a class that no discovery source reported for its staleness period (discovery.stale_after)."),
		duplicates:   gauge("duplicate_pairs", "Pairs of CIs suspected to be one thing: near names and a shared identifying value."),
		capped:       gauge("duplicate_scan_capped", "1 when the duplicate scan stopped at its comparison budget (duplicate_pairs is then a lower bound), else 0."),
		conflicts:    gauge("identity_conflicts", "Open identity conflicts: pairs of CIs that one report's identity keys matched."),
		refreshed:    gauge("health_refreshed_timestamp_seconds", "When the CMDB health figures were last computed (Unix time)."),
		duration:     gauge("health_refresh_duration_seconds", "How long the last CMDB health refresh took."),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "cmdb", Name: "health_refresh_failures_total",
			Help: "CMDB health refreshes that failed (the figures then stay those of the last success)."}),
	}
	for _, c := range []prometheus.Collector{h.cis, h.completeness, h.incomplete, h.orphans, h.stale,
		h.duplicates, h.capped, h.conflicts, h.refreshed, h.duration, h.failures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Set replaces the figures with those of one refresh: a class without CIs
// any more loses its series. A series is set in place, never dropped and
// recreated, so a scrape during Set sees each class's last figures or its
// new ones, never none.
func (h *CMDBHealth) Set(f HealthFigures) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := make(map[string]bool, len(f.Classes))
	for _, c := range f.Classes {
		now[c.Class] = true
	}
	for class := range h.classes {
		if !now[class] {
			for _, v := range []*prometheus.GaugeVec{h.cis, h.completeness, h.incomplete, h.orphans, h.stale} {
				v.DeleteLabelValues(class)
			}
		}
	}
	h.classes = now
	for _, c := range f.Classes {
		h.cis.WithLabelValues(c.Class).Set(float64(c.CIs))
		h.completeness.WithLabelValues(c.Class).Set(c.Completeness)
		h.incomplete.WithLabelValues(c.Class).Set(float64(c.Incomplete))
		h.orphans.WithLabelValues(c.Class).Set(float64(c.Orphans))
		h.stale.WithLabelValues(c.Class).Set(float64(c.Stale))
	}
	h.duplicates.Set(float64(f.DuplicatePairs))
	capped := 0.0
	if f.DuplicatesCapped {
		capped = 1
	}
	h.capped.Set(capped)
	h.conflicts.Set(float64(f.IdentityConflicts))
	h.refreshed.Set(float64(f.At.UnixNano()) / 1e9)
	h.duration.Set(f.RefreshDuration.Seconds())
}

// Failed counts a refresh that failed.
func (h *CMDBHealth) Failed() {
	if h == nil {
		return
	}
	h.failures.Inc()
}
