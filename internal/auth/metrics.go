package auth

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the authenticator's Prometheus collectors.
type metrics struct {
	rejections *prometheus.CounterVec // reason
	accepted   *prometheus.CounterVec // kind: jwt, upload_token
	jwks       *prometheus.CounterVec // result: ok, error
	hookCalls  *prometheus.CounterVec // result: allow, deny, error
}

func newMetrics() *metrics {
	return &metrics{
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_auth_rejections_total",
			Help: "Requests refused by authentication or the pre-create hook, by reason."}, []string{"reason"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_auth_accepted_total",
			Help: "Requests authenticated, by kind of token."}, []string{"kind"}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_auth_jwks_fetches_total",
			Help: "JWKS fetches, by result."}, []string{"result"}),
		hookCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_auth_hook_calls_total",
			Help: "Pre-create hook calls, by result."}, []string{"result"}),
	}
}

func (m *metrics) jwksFetched(ok bool) {
	if ok {
		m.jwks.WithLabelValues("ok").Inc()
	} else {
		m.jwks.WithLabelValues("error").Inc()
	}
}

// RegisterMetrics registers the authenticator's collectors in r.
func (a *Authenticator) RegisterMetrics(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{a.metrics.rejections, a.metrics.accepted, a.metrics.jwks, a.metrics.hookCalls} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("auth: register metrics: %w", err)
		}
	}
	return nil
}
