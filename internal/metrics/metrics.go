// Package metrics keeps mfad's Prometheus metrics: verifications by factor
// and result, their latency, and lockouts. Labels never carry a user name,
// code or token (SECURITY.md 5).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records mfad's metrics in its own registry. It satisfies
// mfa.Observer and is safe for concurrent use.
type Metrics struct {
	reg           *prometheus.Registry
	verifications *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	lockouts      prometheus.Counter
}

// New returns Metrics with the Go runtime and process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mfad_verifications_total",
			Help: "Verifications decided, by factor and result (accept or reject).",
		}, []string{"factor", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mfad_verify_duration_seconds",
			Help: "Time to decide a verification, including the durable commit.",
			// From well under a millisecond (PostgreSQL, batched commits) to
			// a slow disk's fsync under load.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mfad_lockouts_total",
			Help: "Accounts locked after too many consecutive failures.",
		}),
	}
	m.reg.MustRegister(m.verifications, m.latency, m.lockouts,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Verification counts one decided verification.
func (m *Metrics) Verification(factor string, accepted bool, elapsed time.Duration) {
	result := "reject"
	if accepted {
		result = "accept"
	}
	m.verifications.WithLabelValues(factor, result).Inc()
	m.latency.WithLabelValues(result).Observe(elapsed.Seconds())
}

// Lockout counts one account lock.
func (m *Metrics) Lockout() { m.lockouts.Inc() }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
