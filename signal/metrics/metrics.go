// Package metrics holds the Prometheus instruments of the signalling tier. Labels never carry a
// session, stream or client value (cardinality); the message label takes only known WCS names.
package metrics

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/wcs"
)

// Names of the metrics, for dashboards and tests (README "Monitoring").
const (
	NameConnections       = "potok_signal_ws_connections"
	NameConnectionsOpened = "potok_signal_ws_connections_opened_total"
	NameConnectionsClosed = "potok_signal_ws_connections_closed_total"
	NameMessagesReceived  = "potok_signal_ws_messages_received_total"
	NameMessagesSent      = "potok_signal_ws_messages_sent_total"
	NameErrors            = "potok_signal_ws_errors_total"
	NameRefused           = "potok_signal_ws_refused_total"
	NameSessionSetup      = "potok_signal_session_setup_duration_seconds"
	NameStreamSetup       = "potok_signal_stream_setup_duration_seconds"
	NameStreamStatuses    = "potok_signal_stream_statuses_total"
	NameMediaSessions     = "potok_signal_media_sessions"
	NameStreams           = "potok_signal_streams"
	NameMediadRPC         = "potok_signal_mediad_rpc_duration_seconds"
	NameMediadRPCErrors   = "potok_signal_mediad_rpc_errors_total"
	NameHeartbeatAge      = "potok_heartbeat_age_seconds"
	NameSIPCalls          = "potok_signal_sip_calls"
	NameSIPCallStatuses   = "potok_signal_sip_call_statuses_total"
	NameSIPCallSetup      = "potok_signal_sip_call_setup_duration_seconds"
	NameSIPRegistrations  = "potok_signal_sip_registrations_total"
	NameSIPDTMF           = "potok_signal_sip_dtmf_total"
)

// DTMF directions and methods (the labels of potok_signal_sip_dtmf_total).
const (
	DTMFSent     = "sent"
	DTMFReceived = "received"
	DTMFRFC4733  = "rfc4733"
	DTMFInfo     = "info"
)

// SIP call directions (the direction label of the potok_signal_sip_ families) and registration
// outcomes (the outcome label of potok_signal_sip_registrations_total).
const (
	DirectionIn        = "in"
	DirectionOut       = "out"
	RegistrationOK     = "registered"
	RegistrationFailed = "failed"
)

// Why a WebSocket ended (the reason label of potok_signal_ws_connections_closed_total).
const (
	ClosedByClient    = "client_closed"   // the page sent a close frame
	ClosedLost        = "lost"            // the socket ended without one (network cut, process gone)
	ClosedPingTimeout = "ping_timeout"    // no frame from the client for MissedPongs pings
	ClosedQueueFull   = "queue_full"      // the client did not read its frames
	ClosedTooLarge    = "frame_too_large" // a frame past the hard limit
	ClosedShutdown    = "shutdown"        // the node stopped
	ClosedByServer    = "server_closed"   // any other close of ours (deadline, take-over)
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

// Media session kinds (the kind label of potok_signal_media_sessions and potok_signal_streams).
const (
	KindPublish = "publish"
	KindPlay    = "play"
)

// Stream statuses (the status label of potok_signal_streams).
const (
	StreamPending = "pending" // requested, not PUBLISHING/PLAYING yet
	StreamLive    = "live"    // PUBLISHING or PLAYING
)

// Signal is the set of instruments of one signal server.
type Signal struct {
	Connections       prometheus.Gauge
	ConnectionsOpened prometheus.Counter
	ConnectionsClosed *prometheus.CounterVec
	MessagesReceived  *prometheus.CounterVec
	MessagesSent      *prometheus.CounterVec
	Errors            *prometheus.CounterVec
	MediaSessions     *prometheus.GaugeVec
	Streams           *prometheus.GaugeVec // kind, status: pending or live
	SessionSetup      prometheus.Histogram
	StreamSetup       *prometheus.HistogramVec
	StreamStatuses    *prometheus.CounterVec
	MediadRPC         *prometheus.HistogramVec
	MediadRPCErrors   *prometheus.CounterVec
	Refused           *prometheus.CounterVec
	SIPCalls          *prometheus.GaugeVec     // direction: calls in progress
	SIPCallStatuses   *prometheus.CounterVec   // direction, status
	SIPCallSetup      *prometheus.HistogramVec // direction
	SIPRegistrations  *prometheus.CounterVec   // outcome
	SIPDTMF           *prometheus.CounterVec   // direction (sent, received), method (rfc4733, info)

	heartbeat atomic.Int64 // unix nanos of the last heartbeat that reached the directory
}

// setupBuckets cover a join on loopback (milliseconds) to one held up by a hook or an ICE
// timeout (tens of seconds).
var setupBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New creates the instruments and registers them with reg (nil = not registered, e.g. several
// servers in one test process).
func New(reg prometheus.Registerer) (*Signal, error) {
	m := &Signal{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: NameConnections, Help: "Open WCS signalling WebSocket connections.",
		}),
		ConnectionsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameConnectionsOpened, Help: "WCS signalling WebSocket connections accepted.",
		}),
		ConnectionsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameConnectionsClosed, Help: "WCS signalling WebSocket connections ended, by reason.",
		}, []string{"reason"}),
		MessagesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameMessagesReceived, Help: "WCS messages received from clients, by message name (other = unknown).",
		}, []string{"message"}),
		MessagesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameMessagesSent, Help: "WCS frames written to clients, by message name (other = unknown).",
		}, []string{"message"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameErrors, Help: "Signalling errors by reason.",
		}, []string{"reason"}),
		MediaSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameMediaSessions, Help: "Media sessions owned by this signal node, by kind.",
		}, []string{"kind"}),
		Streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameStreams, Help: "Media sessions owned by this signal node, by kind and status (pending: not PUBLISHING/PLAYING yet; live).",
		}, []string{"kind", "status"}),
		SessionSetup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: NameSessionSetup, Help: "Time from a connection message to its getUserData answer (REST hook included).",
			Buckets: setupBuckets,
		}),
		StreamSetup: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: NameStreamSetup, Help: "Time from publishStream or playStream to PUBLISHING or PLAYING, by kind.",
			Buckets: setupBuckets,
		}, []string{"kind"}),
		StreamStatuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameStreamStatuses, Help: "Stream statuses sent to clients (notifyStreamStatusEvent), by kind and status.",
		}, []string{"kind", "status"}),
		MediadRPC: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameMediadRPC,
			Help:    "Duration of signal to mediad control requests over NATS, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		MediadRPCErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameMediadRPCErrors, Help: "Signal to mediad control requests that failed (no answer, no responder), by operation.",
		}, []string{"op"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRefused, Help: "WebSocket sessions refused or closed by admission control, by reason.",
		}, []string{"reason"}),
		SIPCalls: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: NameSIPCalls, Help: "SIP calls in progress (trying, ringing, established or held), by direction (in, out).",
		}, []string{"direction"}),
		SIPCallStatuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameSIPCallStatuses, Help: "SIP call statuses sent to clients, by direction and status.",
		}, []string{"direction", "status"}),
		SIPCallSetup: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: NameSIPCallSetup, Help: "Time from a call's start (call, or the INVITE received) to ESTABLISHED, by direction.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"direction"}),
		SIPRegistrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameSIPRegistrations, Help: "SIP registrations of sessions' accounts (refreshes included), by outcome (registered, failed).",
		}, []string{"outcome"}),
		SIPDTMF: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameSIPDTMF, Help: "DTMF symbols sent to and received from SIP peers, by direction (sent, received) and method (rfc4733, info).",
		}, []string{"direction", "method"}),
	}
	for _, d := range []string{DTMFSent, DTMFReceived} {
		for _, mt := range []string{DTMFRFC4733, DTMFInfo} {
			m.SIPDTMF.WithLabelValues(d, mt)
		}
	}
	for _, d := range []string{DirectionIn, DirectionOut} {
		m.SIPCalls.WithLabelValues(d)
		m.SIPCallSetup.WithLabelValues(d)
		for _, st := range []string{wcs.CallEstablished, wcs.CallBusy, wcs.CallFailed, wcs.CallFinish} {
			m.SIPCallStatuses.WithLabelValues(d, st)
		}
	}
	m.SIPRegistrations.WithLabelValues(RegistrationOK)
	m.SIPRegistrations.WithLabelValues(RegistrationFailed)
	// Exported at 0, so that a rate() has a start and a dashboard a series before the first event.
	for _, r := range []string{RefusedIPLimit, RefusedNodeLimit, RefusedDeadline} {
		m.Refused.WithLabelValues(r)
	}
	for _, r := range []string{ClosedByClient, ClosedLost, ClosedPingTimeout, ClosedQueueFull, ClosedTooLarge,
		ClosedShutdown, ClosedByServer} {
		m.ConnectionsClosed.WithLabelValues(r)
	}
	for _, r := range []string{ReasonMalformed, ReasonUnknownMessage, ReasonNotReady, ReasonFrameTooLarge,
		ReasonBinaryFrame, ReasonQueueFull, ReasonWriteFailed, ReasonPingTimeout, ReasonEventDropped, ReasonRPCFailed} {
		m.Errors.WithLabelValues(r)
	}
	for _, k := range []string{KindPublish, KindPlay} {
		m.MediaSessions.WithLabelValues(k)
		m.Streams.WithLabelValues(k, StreamPending)
		m.Streams.WithLabelValues(k, StreamLive)
		m.StreamSetup.WithLabelValues(k)
		for _, st := range []string{wcs.StatusPublishing, wcs.StatusPlaying, wcs.StatusFailed} {
			if st == wcs.StatusPublishing && k == KindPlay || st == wcs.StatusPlaying && k == KindPublish {
				continue
			}
			m.StreamStatuses.WithLabelValues(k, st)
		}
	}
	m.heartbeat.Store(time.Now().UnixNano())
	heartbeatAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: NameHeartbeatAge, Help: "Seconds since this node's heartbeat last reached the directory.",
		ConstLabels: prometheus.Labels{"tier": "signal"},
	}, func() float64 { return time.Since(time.Unix(0, m.heartbeat.Load())).Seconds() })
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Connections, m.ConnectionsOpened, m.ConnectionsClosed,
			m.MessagesReceived, m.MessagesSent, m.Errors, m.MediaSessions, m.Streams, m.SessionSetup, m.StreamSetup,
			m.StreamStatuses, m.MediadRPC, m.MediadRPCErrors, m.Refused, m.SIPCalls, m.SIPCallStatuses, m.SIPCallSetup,
			m.SIPRegistrations, m.SIPDTMF, heartbeatAge} {
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
		wcs.MsgSubmitBugReport, wcs.MsgSessionDebug, wcs.MsgPushLogs, wcs.MsgSendMessage, wcs.MsgNotificationResult,
		"webRTCMetricsClientDescription", "webRTCMetricsBatch", "connectMediaTransport"} {
		known[n] = true
	}
	for _, n := range []string{wcs.MsgPing, wcs.MsgGetUserData, wcs.MsgGetVersion, wcs.MsgSetRemoteSDP,
		wcs.MsgNotifyStreamStatusEvent, wcs.MsgNotifyVideoFormat, wcs.MsgNotifyAudioCodec, wcs.MsgNotifyStreamEvent,
		wcs.MsgDataStatusEvent, wcs.MsgOnDataEvent, wcs.MsgFail, wcs.MsgInboundVideoRate, wcs.MsgOutboundVideoRate,
		wcs.MsgNotifySessionDebugEvent, wcs.MsgFinish, wcs.MsgCall, wcs.MsgRegistered, wcs.MsgNotifyIncomingCall,
		wcs.MsgNotifyTryingResponse, wcs.MsgRing, wcs.MsgTalk, wcs.MsgHold, wcs.MsgNotifyTransferEvent, wcs.MsgNotifyMessage} {
		knownSent[n] = n
	}
}

// knownSent is the closed set of the message label of sent frames (name → itself, so that a
// lookup by the frame's bytes returns the label without copying them).
var knownSent = map[string]string{}

// MessageLabel maps a client message name to its label value.
func MessageLabel(name string) string {
	if known[name] {
		return name
	}
	return "other"
}

// sentPrefix starts every frame the server writes (wcs.Encode puts the message name first).
var sentPrefix = []byte(`{"message":"`)

// SentLabel is the message label of a frame written to a client: its message name when known.
func SentLabel(frame []byte) string {
	rest, ok := bytes.CutPrefix(frame, sentPrefix)
	if !ok {
		return "other"
	}
	if i := bytes.IndexByte(rest, '"'); i > 0 {
		if n, ok := knownSent[string(rest[:i])]; ok {
			return n
		}
	}
	return "other"
}

// Sent counts one frame written to a client.
func (m *Signal) Sent(frame []byte) { m.MessagesSent.WithLabelValues(SentLabel(frame)).Inc() }

// Closed counts one WebSocket ended, for reason (a Closed* value).
func (m *Signal) Closed(reason string) { m.ConnectionsClosed.WithLabelValues(reason).Inc() }

// RPC records one control request to a media daemon: its duration and whether it failed.
func (m *Signal) RPC(op string, d time.Duration, err error) {
	m.MediadRPC.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.MediadRPCErrors.WithLabelValues(op).Inc()
		m.Error(ReasonRPCFailed)
	}
}

// Heartbeat records that this node's heartbeat reached the directory now.
func (m *Signal) Heartbeat() { m.heartbeat.Store(time.Now().UnixNano()) }

// StatusLabel is the status label of potok_signal_stream_statuses_total: a WCS stream status, or
// "other".
func StatusLabel(status string) string {
	switch status {
	case wcs.StatusNew, wcs.StatusPending, wcs.StatusPublishing, wcs.StatusPlaying, wcs.StatusUnpublished,
		wcs.StatusStopped, wcs.StatusFailed, wcs.StatusResize:
		return status
	}
	return "other"
}

// CallStatus records a SIP call's status going from old to status (wcs.Call* values): the status
// counted, the call in progress from its first status past PENDING until a terminal one, its setup
// time from created when it is first ESTABLISHED.
func (m *Signal) CallStatus(incoming bool, old, status string, created time.Time) {
	d := direction(incoming)
	m.SIPCallStatuses.WithLabelValues(d, callStatusLabel(status)).Inc()
	switch was, is := callInProgress(old), callInProgress(status); {
	case !was && is && old == wcs.CallPending:
		m.SIPCalls.WithLabelValues(d).Inc()
	case was && !is:
		m.SIPCalls.WithLabelValues(d).Dec()
	}
	if status == wcs.CallEstablished && old != wcs.CallEstablished && old != wcs.CallHold {
		m.SIPCallSetup.WithLabelValues(d).Observe(time.Since(created).Seconds())
	}
}

// CallGone records a SIP call ended without a status sent (its session ended), in status.
func (m *Signal) CallGone(incoming bool, status string) {
	if callInProgress(status) {
		m.SIPCalls.WithLabelValues(direction(incoming)).Dec()
	}
}

// DTMF counts one DTMF symbol sent or received (DTMFSent, DTMFReceived) by method.
func (m *Signal) DTMF(direction, method string) { m.SIPDTMF.WithLabelValues(direction, method).Inc() }

// Registration counts one registration (or refresh) of a session's SIP account.
func (m *Signal) Registration(ok bool) {
	outcome := RegistrationOK
	if !ok {
		outcome = RegistrationFailed
	}
	m.SIPRegistrations.WithLabelValues(outcome).Inc()
}

func direction(incoming bool) string {
	if incoming {
		return DirectionIn
	}
	return DirectionOut
}

// callInProgress: a call past PENDING and not ended.
func callInProgress(status string) bool {
	switch status {
	case wcs.CallTrying, wcs.CallRing, wcs.CallSessionProgress, wcs.CallEstablished, wcs.CallHold:
		return true
	}
	return false
}

func callStatusLabel(status string) string {
	switch status {
	case wcs.CallPending, wcs.CallTrying, wcs.CallRing, wcs.CallSessionProgress, wcs.CallBusy, wcs.CallEstablished,
		wcs.CallHold, wcs.CallFailed, wcs.CallFinish:
		return status
	}
	return "other"
}

// Received counts one received message.
func (m *Signal) Received(name string) { m.MessagesReceived.WithLabelValues(MessageLabel(name)).Inc() }

// Error counts one error.
func (m *Signal) Error(reason string) { m.Errors.WithLabelValues(reason).Inc() }

// Refuse counts one session refused by admission control (a Refused* reason).
func (m *Signal) Refuse(reason string) { m.Refused.WithLabelValues(reason).Inc() }
