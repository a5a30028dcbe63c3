package oauth

import (
	"github.com/authd/authd/internal/httpx"

	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests       *prometheus.HistogramVec
	tokensIssued   *prometheus.CounterVec
	reuse          prometheus.Counter
	introspections *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authd_http_request_duration_seconds", Help: "Protocol endpoint latency by endpoint and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint", "code"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_tokens_issued_total", Help: "Token responses by grant type.",
		}, []string{"grant_type"}),
		reuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_refresh_reuse_detected_total", Help: "Refresh token reuse detections (grant revoked).",
		}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_introspections_total", Help: "Introspection answers by result.",
		}, []string{"active"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.tokensIssued, m.reuse, m.introspections)
	}
	return m
}

func (s *Server) instrument(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httpx.NewStatusWriter(w)
		h(rec, r)
		code := rec.Status()
		if code == 0 { // nothing written: net/http answers 200
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	}
}
