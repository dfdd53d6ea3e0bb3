package events

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	attempts  *prometheus.CounterVec
	delivered *prometheus.CounterVec
	failures  *prometheus.CounterVec
	dead      *prometheus.CounterVec
	lag       *prometheus.GaugeVec
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_webhook_attempts_total",
			Help: "Webhook delivery attempts, by endpoint."}, []string{"endpoint"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_webhook_delivered_total",
			Help: "Webhook events delivered (2xx), by endpoint and event type."}, []string{"endpoint", "type"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_webhook_failures_total",
			Help: "Failed webhook attempts, by endpoint and reason (status code, network, gone)."}, []string{"endpoint", "reason"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_webhook_dead_letters_total",
			Help: "Webhook events given up after webhook-max-age and written to the dead-letter stream, by endpoint."}, []string{"endpoint"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vodgate_webhook_lag_seconds",
			Help: "Age of the oldest event not yet delivered to an endpoint (on the instance delivering to it)."}, []string{"endpoint"}),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.attempts, m.delivered, m.failures, m.dead, m.lag} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("events: register metrics: %w", err)
		}
	}
	return nil
}
