// Package ops serves what every Potok process answers for operators, whatever tier it runs:
// /metrics (Prometheus), /health (liveness: the process serves HTTP) and /ready (readiness: every
// tier it runs can take new work, so a load balancer may send it clients). Tiers add their own
// routes to the mux it returns.
package ops

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one tier's readiness: nil when ready, else the reason.
type Check struct {
	Name  string
	Ready func() error
}

// NewMux returns a mux with /metrics for the gatherer, /health and /ready over checks.
func NewMux(g prometheus.Gatherer, checks ...Check) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		reasons := map[string]string{}
		for _, c := range checks {
			if err := c.Ready(); err != nil {
				reasons[c.Name] = err.Error()
			}
		}
		if len(reasons) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
