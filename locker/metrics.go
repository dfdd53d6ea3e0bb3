package locker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are created by New and updated whether or not they are registered.
type metrics struct {
	acquisitions   prometheus.Counter
	wait           *prometheus.HistogramVec // label result: acquired, timeout, error
	stealsRequest  prometheus.Counter
	stealsReceived prometheus.Counter
	stealsHonoured prometheus.Counter
	lost           prometheus.Counter
	held           prometheus.Gauge
	errors         *prometheus.CounterVec // label op: acquire, renew, release, subscribe
}

func newMetrics() *metrics {
	const ns, sub = "vodgate", "locker"
	return &metrics{
		acquisitions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "acquisitions_total",
			Help: "Locks acquired.",
		}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "wait_seconds",
			Help:    "Time spent in Lock, by result (acquired, timeout, error).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"result"}),
		stealsRequest: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "steals_requested_total",
			Help: "Lock calls that found the lock held and asked its holder to release it.",
		}),
		stealsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "release_requests_received_total",
			Help: "Release requests delivered to a lock held by this process (requestUnlock called).",
		}),
		stealsHonoured: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "steals_honoured_total",
			Help: "Locks released by this process after a release request.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "lost_total",
			Help: "Held locks found lost (expired or taken over) before Unlock.",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "held",
			Help: "Locks currently held by this process.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Failed Redis operations, by operation (acquire, renew, release, subscribe).",
		}, []string{"op"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.acquisitions, m.wait, m.stealsRequest, m.stealsReceived,
		m.stealsHonoured, m.lost, m.held, m.errors}
}

// RegisterMetrics registers the locker's Prometheus metrics (prefix
// vodgate_locker_) with r, as tusd's s3store does. Metrics are collected
// whether or not they are registered. Registering twice with the same r is a
// no-op; a conflicting registration (say, a second Locker on the same
// registry) is logged as MetricsRegistrationFailed rather than panicking.
func (l *Locker) RegisterMetrics(r prometheus.Registerer) {
	for _, c := range l.m.collectors() {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) && are.ExistingCollector == c {
				continue
			}
			l.log.Error("MetricsRegistrationFailed", "error", err)
		}
	}
}
