package mediad

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/mediad/forward"
)

// metrics of one daemon (design.md "Observability": units, _total counters, no per-stream labels).
type metrics struct {
	peerConnections prometheus.Gauge
	publishedTracks prometheus.Gauge
	mediaSessions   *prometheus.GaugeVec // role = publish|play
	iceFailures     prometheus.Counter
	iceTimeouts     prometheus.Counter
	relays          prometheus.Gauge // streams this daemon relays from their origin
	forward         *forward.Metrics
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		peerConnections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "peer_connections", Help: "Live pion peer connections."}),
		publishedTracks: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "published_tracks", Help: "Tracks being received from publishers."}),
		mediaSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "media_sessions", Help: "Live media sessions by role (publish, play)."}, []string{"role"}),
		iceFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "ice_failures_total", Help: "Media sessions failed by ICE or DTLS error or ICE timeout."}),
		iceTimeouts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "ice_timeouts_total", Help: "Media sessions not connected within the ICE timeout."}),
		relays: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "relays", Help: "Streams relayed to this daemon from their origin (one per stream, shared by its players here)."}),
	}
	fm, err := forward.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	m.forward = fm
	if reg != nil {
		for _, c := range []prometheus.Collector{m.peerConnections, m.publishedTracks, m.mediaSessions,
			m.iceFailures, m.iceTimeouts, m.relays} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("mediad: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
