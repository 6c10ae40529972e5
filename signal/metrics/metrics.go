// Package metrics holds the Prometheus instruments of the signalling tier. Labels never carry a
// session, stream or client value (cardinality); the message label takes only known WCS names.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/wcs"
)

// Names of the metrics, for dashboards and tests.
const (
	NameConnections      = "potok_signal_ws_connections"
	NameMessagesReceived = "potok_signal_ws_messages_received_total"
	NameMessagesSent     = "potok_signal_ws_messages_sent_total"
	NameErrors           = "potok_signal_ws_errors_total"
	NameMediaSessions    = "potok_signal_media_sessions"
	NameMediadRPC        = "potok_signal_mediad_rpc_seconds"
	NameRefused          = "potok_signal_ws_refused_total"
)

// Refusal reasons (the reason label of potok_signal_ws_refused_total): admission control at the
// edge of signal (README "Limits that protect the server").
const (
	RefusedIPLimit   = "ip_limit"            // the client IP holds --max-sessions-per-ip sockets
	RefusedNodeLimit = "node_limit"          // the node holds --max-sessions sockets
	RefusedDeadline  = "connection_deadline" // no connection message within --connection-deadline
)

// Error reasons (the reason label of potok_signal_ws_errors_total).
const (
	ReasonMalformed      = "malformed"
	ReasonUnknownMessage = "unknown_message"
	ReasonNotReady       = "not_ready"
	ReasonFrameTooLarge  = "frame_too_large"
	ReasonBinaryFrame    = "binary_frame"
	ReasonQueueFull      = "queue_full"
	ReasonWriteFailed    = "write_failed"
	ReasonPingTimeout    = "ping_timeout"
	ReasonEventDropped   = "event_dropped"
	ReasonRPCFailed      = "rpc_failed"
)

// Media session kinds (the kind label of potok_signal_media_sessions).
const (
	KindPublish = "publish"
	KindPlay    = "play"
)

// Signal is the set of instruments of one signal server.
type Signal struct {
	Connections      prometheus.Gauge
	MessagesReceived *prometheus.CounterVec
	MessagesSent     prometheus.Counter
	Errors           *prometheus.CounterVec
	MediaSessions    *prometheus.GaugeVec
	MediadRPC        *prometheus.HistogramVec
	Refused          *prometheus.CounterVec
}

// New creates the instruments and registers them with reg (nil = not registered, e.g. several
// servers in one test process).
func New(reg prometheus.Registerer) (*Signal, error) {
	m := &Signal{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameConnections, Help: "Open WCS signalling WebSocket connections.",
		}),
		MessagesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameMessagesReceived, Help: "WCS messages received from clients, by message name (other = unknown).",
		}, []string{"message"}),
		MessagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameMessagesSent, Help: "WCS frames written to clients.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameErrors, Help: "Signalling errors by reason.",
		}, []string{"reason"}),
		MediaSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameMediaSessions, Help: "Media sessions owned by this signal node, by kind.",
		}, []string{"kind"}),
		MediadRPC: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameMediadRPC,
			Help:    "Duration of signal to mediad control requests, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRefused, Help: "WebSocket sessions refused or closed by admission control, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{RefusedIPLimit, RefusedNodeLimit, RefusedDeadline} {
		m.Refused.WithLabelValues(r) // exported at 0, so that a rate() has a start
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Connections, m.MessagesReceived, m.MessagesSent,
			m.Errors, m.MediaSessions, m.MediadRPC, m.Refused} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// known is the closed set of message label values; anything else is counted as "other".
var known = map[string]bool{}

func init() {
	for _, n := range []string{wcs.MsgConnection, wcs.MsgConnect, wcs.MsgPong, wcs.MsgPing,
		wcs.MsgPublishStream, wcs.MsgPlayStream, wcs.MsgUnPublishStream, wcs.MsgStopStream,
		wcs.MsgAvailableStream, wcs.MsgSnapshot, wcs.MsgSendStreamEvent, wcs.MsgSendData, wcs.MsgCall,
		wcs.MsgAnswer, wcs.MsgHangup, wcs.MsgHold, wcs.MsgUnhold, wcs.MsgSendDtmf, wcs.MsgTransfer,
		wcs.MsgSubmitBugReport, wcs.MsgSessionDebug, wcs.MsgPushLogs,
		"webRTCMetricsClientDescription", "webRTCMetricsBatch", "connectMediaTransport"} {
		known[n] = true
	}
}

// MessageLabel maps a client message name to its label value.
func MessageLabel(name string) string {
	if known[name] {
		return name
	}
	return "other"
}

// Received counts one received message.
func (m *Signal) Received(name string) { m.MessagesReceived.WithLabelValues(MessageLabel(name)).Inc() }

// Error counts one error.
func (m *Signal) Error(reason string) { m.Errors.WithLabelValues(reason).Inc() }

// Refuse counts one session refused by admission control (a Refused* reason).
func (m *Signal) Refuse(reason string) { m.Refused.WithLabelValues(reason).Inc() }
