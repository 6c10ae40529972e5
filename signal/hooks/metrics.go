package hooks

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the metrics, for dashboards and tests.
const (
	NameRequests      = "potok_signal_hook_requests_total"
	NameDuration      = "potok_signal_hook_duration_seconds"
	NameEventsDropped = "potok_signal_hook_events_dropped_total"
)

// Outcomes (the outcome label of potok_signal_hook_requests_total).
const (
	OutcomeOK      = "ok"      // the backend answered 200
	OutcomeRefused = "refused" // it answered another status
	OutcomeError   = "error"   // no usable answer: transport failure, unreadable answer, bad request
	OutcomeTimeout = "timeout" // no answer within the timeout
	OutcomeSkipped = "skipped" // not sent (disabled, no URL, method not enabled, restPolicy DISABLE)
	OutcomeEcho    = "echo"    // answered by the in-process echo backend
)

// metrics are the instruments of one Client. Label values are bounded: method through label,
// outcome from the constants above.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	dropped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRequests, Help: "REST hooks by method (other = unknown) and outcome.",
		}, []string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameDuration,
			Help:    "Duration of REST hooks sent over HTTP, retries included, by method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"method"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameEventsDropped, Help: "Hook events dropped because a session's queue was full or closed, by method.",
		}, []string{"method"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.dropped, err = register(reg, m.dropped); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under its name, so that
// several Clients of one process (tests, several signal servers) share the series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("hooks: register metrics: %w", err)
}
