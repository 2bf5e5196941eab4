package pipeline

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idsync/idsync/connectors"
)

// Metrics are idsync's Prometheus metrics. Labels are bounded: source,
// target, action, result, reason, code class. Never a user key.
type Metrics struct {
	sourceRecords  *prometheus.CounterVec
	sourceRejected *prometheus.CounterVec
	ruleErrors     *prometheus.CounterVec
	planOps        *prometheus.CounterVec
	applyOps       *prometheus.CounterVec
	applyDuration  *prometheus.HistogramVec
	targetRequests *prometheus.CounterVec
	retries        *prometheus.CounterVec
	escrowOps      *prometheus.GaugeVec
	quarantined    *prometheus.GaugeVec
	guardTrips     *prometheus.CounterVec
	runDuration    *prometheus.HistogramVec
	lastSuccess    *prometheus.GaugeVec
	watermarkAge   *prometheus.GaugeVec
	indexReads     *prometheus.CounterVec
	detailsReads   *prometheus.CounterVec
}

// NewMetrics registers idsync's metrics with reg. The registry is injected
// so tests and embedders never share global state.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sourceRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_source_records_total",
			Help: "Records read from sources."}, []string{"source"}),
		sourceRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_source_records_rejected_total",
			Help: "Source records quarantined, by reason."}, []string{"source", "reason"}),
		ruleErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_rule_errors_total",
			Help: "Records quarantined because a rule failed on them."}, []string{"target"}),
		planOps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_plan_ops_total",
			Help: "Ops planned."}, []string{"target", "action"}),
		applyOps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_apply_ops_total",
			Help: "Ops applied, by result: applied, failed or held (by a deletion guard)."}, []string{"target", "action", "result"}),
		applyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "idsync_apply_duration_seconds",
			Help: "Time to apply one op, retries included.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"target", "action"}),
		targetRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_target_requests_total",
			Help: "Requests to targets, by outcome class (ok, 4xx, 429, 5xx, error); a bulk request counts once per op."}, []string{"target", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_retries_total",
			Help: "Retries of retryable failures."}, []string{"target"}),
		escrowOps: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "idsync_escrow_ops",
			Help: "Failed ops waiting in escrow for a retry."}, []string{"target"}),
		quarantined: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "idsync_target_quarantined",
			Help: "1 while a target is quarantined."}, []string{"target"}),
		guardTrips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_deletion_guard_trips_total",
			Help: "Runs in which a deletion guard held back disables or deletes."}, []string{"target"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "idsync_run_duration_seconds",
			Help: "Duration of a run (plan and apply) of one source.", Buckets: prometheus.ExponentialBuckets(0.1, 3, 10)}, []string{"source", "kind"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "idsync_last_success_timestamp_seconds",
			Help: "When a run of the source last finished with every op done."}, []string{"source"}),
		watermarkAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "idsync_watermark_age_seconds",
			Help: "Seconds since the source's watermark last advanced."}, []string{"source"}),
		indexReads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_index_reads_total",
			Help: "Full reads of a target's state index: read back merged with its source's other targets (merged), or merged anew from the index cache files (cache) or from the store (store)."}, []string{"target", "from"}),
		detailsReads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "idsync_details_reads_total",
			Help: "Records whose stored details a plan read, from the index cache files (cache) or from the store (store)."}, []string{"from"}),
	}
	reg.MustRegister(m.sourceRecords, m.sourceRejected, m.ruleErrors, m.planOps, m.applyOps, m.applyDuration,
		m.targetRequests, m.retries, m.escrowOps, m.quarantined, m.guardTrips, m.runDuration, m.lastSuccess, m.watermarkAge,
		m.indexReads, m.detailsReads)
	return m
}

// RunDone records one finished run of a source (the daemon calls it).
func (m *Metrics) RunDone(source string, full bool, seconds float64, success bool, nowUnix int64) {
	if m == nil {
		return
	}
	kind := "delta"
	if full {
		kind = "full"
	}
	m.runDuration.WithLabelValues(source, kind).Observe(seconds)
	if success {
		m.lastSuccess.WithLabelValues(source).Set(float64(nowUnix))
	}
}

// rejectReason maps a reject to a bounded label.
func rejectReason(reason string) string {
	switch {
	case strings.HasPrefix(reason, "duplicate key"):
		return "duplicate-key"
	case strings.Contains(reason, "key is"):
		return "empty-key"
	case strings.Contains(reason, "bytes, over the"):
		return "too-long"
	case strings.Contains(reason, "UTF-8"):
		return "invalid-utf8"
	case strings.HasPrefix(reason, "cannot parse"), strings.HasPrefix(reason, "want "):
		return "invalid-value"
	}
	return "malformed"
}

// codeClass labels one target request's outcome.
func codeClass(err error) string {
	if err == nil {
		return "ok"
	}
	var e *connectors.Error
	if errors.As(err, &e) && e.Status > 0 {
		switch {
		case e.Status == 429:
			return "429"
		case e.Status >= 500:
			return "5xx"
		case e.Status >= 400:
			return "4xx"
		}
	}
	return "error"
}
