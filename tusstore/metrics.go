package tusstore

import "github.com/prometheus/client_golang/prometheus"

// metrics are the store's Prometheus collectors, registered by
// RegisterMetrics.
type metrics struct {
	created, finished *prometheus.CounterVec
	rejected, errors  *prometheus.CounterVec
	terminated        prometheus.Counter
	bytes             prometheus.Counter
	refreshes         prometheus.Counter
	fenced            prometheus.Counter
	ossRetries        prometheus.Counter
	partSeconds       prometheus.Histogram
	journal           *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_media_created_total",
			Help: "VOD media created for new uploads, by media type."}, []string{"type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_media_uploaded_total",
			Help: "Uploads completed into VOD, by media type."}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_uploads_rejected_total",
			Help: "Creations rejected before VOD was called, by reason."}, []string{"reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_store_errors_total",
			Help: "Store errors answered to clients, by tus error code."}, []string{"code"}),
		terminated: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_uploads_terminated_total",
			Help: "Uploads terminated."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_durable_bytes_total",
			Help: "Bytes made durable (in OSS parts or the record tail)."}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_credential_refreshes_total",
			Help: "Upload credentials refreshed with RefreshUploadVideo."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_stale_writes_rejected_total",
			Help: "Record writes rejected because the writer no longer held the upload's lock."}),
		ossRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_oss_retries_total",
			Help: "OSS calls repeated after a retryable failure."}),
		partSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vodgate_part_upload_seconds",
			Help: "Time to upload one OSS part, retries included.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		journal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_journal_failures_total",
			Help: "Upload list updates that failed (the record stays the truth), by event."}, []string{"event"}),
	}
}

// RegisterMetrics registers the store's collectors, including the bytes
// of part buffers in use.
func (s *Store) RegisterMetrics(r prometheus.Registerer) error {
	m := s.metrics
	for _, c := range []prometheus.Collector{m.created, m.finished, m.rejected, m.errors, m.terminated,
		m.bytes, m.refreshes, m.fenced, m.ossRetries, m.partSeconds, m.journal,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vodgate_buffer_bytes_in_use",
			Help: "Bytes of part buffers charged to the buffer budget."},
			func() float64 { return float64(s.budget.inUse()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vodgate_buffer_arena_bytes",
			Help:        "Bytes of the buffer arena: mapped (the budget) and touched (ever used, so resident; kept while quiet).",
			ConstLabels: prometheus.Labels{"state": "mapped"}},
			func() float64 { return float64(s.budget.arena.mapped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vodgate_buffer_arena_bytes",
			Help:        "Bytes of the buffer arena: mapped (the budget) and touched (ever used, so resident; kept while quiet).",
			ConstLabels: prometheus.Labels{"state": "touched"}},
			func() float64 { return float64(s.budget.arena.touched.Load()) }),
	} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
