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

// RADIUS reports the counts of a RADIUS front door, read when /metrics is
// scraped: requests by outcome, retransmissions answered from the cache,
// and packets dropped without an answer, by reason.
func (m *Metrics) RADIUS(stats func() (answered map[string]uint64, duplicates uint64,
	dropped map[string]uint64)) {
	m.reg.MustRegister(&radiusCollector{stats: stats})
}

var (
	radiusAnswered = prometheus.NewDesc("mfad_radius_responses_total",
		"RADIUS responses sent, by code (accept, reject, challenge).", []string{"code"}, nil)
	radiusDuplicates = prometheus.NewDesc("mfad_radius_retransmissions_total",
		"RADIUS retransmissions answered from the cache.", nil, nil)
	radiusDropped = prometheus.NewDesc("mfad_radius_dropped_total",
		"RADIUS packets discarded without an answer, by reason.", []string{"reason"}, nil)
)

type radiusCollector struct {
	stats func() (map[string]uint64, uint64, map[string]uint64)
}

func (c *radiusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- radiusAnswered
	ch <- radiusDuplicates
	ch <- radiusDropped
}

func (c *radiusCollector) Collect(ch chan<- prometheus.Metric) {
	answered, dup, dropped := c.stats()
	for code, n := range answered {
		ch <- prometheus.MustNewConstMetric(radiusAnswered, prometheus.CounterValue, float64(n), code)
	}
	ch <- prometheus.MustNewConstMetric(radiusDuplicates, prometheus.CounterValue, float64(dup))
	for reason, n := range dropped {
		ch <- prometheus.MustNewConstMetric(radiusDropped, prometheus.CounterValue, float64(n),
			reason)
	}
}
