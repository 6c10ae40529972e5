package mediad

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/mediad/forward"
)

// Causes of a media session that never connected or lost its connection (the cause label of
// potok_mediad_ice_failures_total; docs/protocol.md §E.2).
const (
	causeICETimeout = "ice_timeout" // ICE found no working pair in time
	causeDTLS       = "dtls"        // ICE up, the DTLS handshake did not complete
	causeICELost    = "ice_lost"    // connected, then ICE failed
)

// metrics of one daemon (README "Monitoring": units, _total counters, no per-stream labels).
type metrics struct {
	peerConnections *prometheus.GaugeVec // state = pion's peer connection state
	publishedTracks prometheus.Gauge
	mediaSessions   *prometheus.GaugeVec   // role = publish|play|relay
	sessionsStarted *prometheus.CounterVec // role
	iceFailures     *prometheus.CounterVec // cause
	relays          prometheus.Gauge       // streams this daemon relays from their origin
	udpReadErrors   prometheus.Counter     // potok_mediad_udp_socket_errors_total{op="read"}
	udpWriteErrors  prometheus.Counter
	forward         *forward.Metrics
	// SIP calls' RTP legs (call.go): what the SIP peers' streams lost, their jitter, their DTMF.
	sipLost   prometheus.Counter
	sipJitter prometheus.Histogram
	sipDTMF   prometheus.Counter

	heartbeat atomic.Int64 // unix nanos of the last heartbeat that reached the directory
}

// peerStates are the state label values of potok_mediad_peer_connections.
var peerStates = []webrtc.PeerConnectionState{webrtc.PeerConnectionStateNew, webrtc.PeerConnectionStateConnecting,
	webrtc.PeerConnectionStateConnected, webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed,
	webrtc.PeerConnectionStateClosed}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		peerConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "peer_connections", Help: "Live pion peer connections (players, publishers, relays), by state."}, []string{"state"}),
		publishedTracks: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "published_tracks", Help: "Tracks being received from publishers."}),
		mediaSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "media_sessions", Help: "Live media sessions by role (publish, play, relay)."}, []string{"role"}),
		sessionsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "media_sessions_started_total", Help: "Media sessions started, by role (publish, play, relay)."}, []string{"role"}),
		iceFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "ice_failures_total", Help: "Media sessions failed by ICE or DTLS, by cause (ice_timeout, dtls, ice_lost)."}, []string{"cause"}),
		relays: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "relays", Help: "Streams relayed to this daemon from their origin (one per stream, shared by its players here)."}),
	}
	for _, st := range peerStates {
		m.peerConnections.WithLabelValues(st.String())
	}
	for _, r := range []string{"publish", "play", "relay"} {
		m.mediaSessions.WithLabelValues(r)
		m.sessionsStarted.WithLabelValues(r)
	}
	for _, c := range []string{causeICETimeout, causeDTLS, causeICELost} {
		m.iceFailures.WithLabelValues(c)
	}
	udpErrors := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
		Name: "udp_socket_errors_total", Help: "Failed reads and writes on the shared ICE UDP socket, by op (read, write)."}, []string{"op"})
	m.udpReadErrors, m.udpWriteErrors = udpErrors.WithLabelValues("read"), udpErrors.WithLabelValues("write")
	m.sipLost = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
		Name: "sip_rtp_lost_total", Help: "RTP packets of SIP peers' streams lost on the way to the call bridge (RFC 3550 sequence gaps)."})
	m.sipJitter = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "potok", Subsystem: "mediad",
		Name: "sip_jitter_seconds", Help: "Interarrival jitter of SIP peers' streams (RFC 3550), observed every 5 s per call.",
		Buckets: []float64{.001, .0025, .005, .01, .02, .04, .08, .16}})
	m.sipDTMF = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad",
		Name: "sip_dtmf_received_total", Help: "DTMF symbols SIP peers sent as RFC 4733 telephone-events."})
	m.heartbeat.Store(time.Now().UnixNano())
	heartbeatAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "potok", Name: "heartbeat_age_seconds",
		Help:        "Seconds since this node's heartbeat last reached the directory.",
		ConstLabels: prometheus.Labels{"tier": "mediad"},
	}, func() float64 { return time.Since(time.Unix(0, m.heartbeat.Load())).Seconds() })
	fm, err := forward.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	m.forward = fm
	if reg != nil {
		for _, c := range []prometheus.Collector{m.peerConnections, m.publishedTracks, m.mediaSessions,
			m.sessionsStarted, m.iceFailures, m.relays, udpErrors, heartbeatAge, m.sipLost, m.sipJitter, m.sipDTMF} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("mediad: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// peerState follows one peer connection in potok_mediad_peer_connections{state}: counted in
// "new" when made, moved with pion's state changes, removed when torn down.
type peerState struct {
	g   *prometheus.GaugeVec
	mu  sync.Mutex
	cur string // "" once removed
}

func (m *metrics) newPeerState() *peerState {
	p := &peerState{g: m.peerConnections, cur: webrtc.PeerConnectionStateNew.String()}
	p.g.WithLabelValues(p.cur).Inc()
	return p
}

// set moves the peer connection to st (pion's callback goroutine).
func (p *peerState) set(st webrtc.PeerConnectionState) {
	label := st.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == "" || p.cur == label {
		return
	}
	p.g.WithLabelValues(p.cur).Dec()
	p.g.WithLabelValues(label).Inc()
	p.cur = label
}

// remove takes the peer connection out of the gauge; later calls do nothing.
func (p *peerState) remove() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != "" {
		p.g.WithLabelValues(p.cur).Dec()
		p.cur = ""
	}
}

// udpError counts a failed read or write on the shared UDP socket (rtc.Options.OnUDPError).
func (m *metrics) udpError(write bool) {
	if write {
		m.udpWriteErrors.Inc()
	} else {
		m.udpReadErrors.Inc()
	}
}
