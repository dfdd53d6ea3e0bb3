package limits

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the limiter's Prometheus collectors.
type metrics struct {
	rejections  *prometheus.CounterVec // reason
	redisErrors prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_limit_rejections_total",
			Help: "Requests refused or cut by a limit, by reason."}, []string{"reason"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vodgate_limit_redis_errors_total",
			Help: "Limit checks that could not reach Redis (let through unless fail-closed)."}),
	}
}

// RegisterMetrics registers the limiter's collectors in r.
func (l *Limiter) RegisterMetrics(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{l.metrics.rejections, l.metrics.redisErrors} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("limits: register metrics: %w", err)
		}
	}
	return nil
}
