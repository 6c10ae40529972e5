package session

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/metrics"
)

// handler is one entry of the dispatch table: a small function per client message.
type handler struct {
	fn func(*Session, wcs.Envelope)
	// ready: the message needs an established session (after connection, docs/protocol.md §E.1).
	ready bool
	// stream: the message names a media session, so "Session not ready" is routed to it.
	stream bool
}

var handlers map[string]handler

func init() {
	silent := handler{fn: func(*Session, wcs.Envelope) {}}
	handlers = map[string]handler{
		wcs.MsgConnection:      {fn: (*Session).onConnection},
		wcs.MsgConnect:         {fn: (*Session).onConnection}, // legacy name (§B.23)
		wcs.MsgPublishStream:   {fn: (*Session).onPublishStream, ready: true, stream: true},
		wcs.MsgPlayStream:      {fn: (*Session).onPlayStream, ready: true, stream: true},
		wcs.MsgUnPublishStream: {fn: (*Session).onStopStream, ready: true, stream: true},
		wcs.MsgStopStream:      {fn: (*Session).onStopStream, ready: true, stream: true},
		wcs.MsgAvailableStream: {fn: (*Session).onAvailableStream, ready: true, stream: true},
		wcs.MsgSendStreamEvent: {fn: (*Session).onSendStreamEvent, ready: true, stream: true},
		wcs.MsgSnapshot:        {fn: (*Session).onSnapshot, ready: true},
		wcs.MsgSendData:        {fn: (*Session).onSendData, ready: true},
		// SIP calls (sip.go, §B.12–§B.18).
		wcs.MsgCall:     {fn: (*Session).onCall, ready: true},
		wcs.MsgAnswer:   {fn: (*Session).onAnswer, ready: true},
		wcs.MsgHangup:   {fn: (*Session).onHangup, ready: true},
		wcs.MsgHold:     {fn: (*Session).onHold, ready: true},
		wcs.MsgUnhold:   {fn: (*Session).onUnhold, ready: true},
		wcs.MsgTransfer: {fn: (*Session).onTransfer, ready: true},
		wcs.MsgSendDtmf: {fn: (*Session).onSendDtmf, ready: true},
		// Legacy SIP MESSAGE (message.go, §B.23): a received message is answered at once, so the
		// client's notificationResult needs nothing more.
		wcs.MsgSendMessage:        {fn: (*Session).onSendMessage, ready: true},
		wcs.MsgNotificationResult: silent,
		// Liveness is counted by the transport; these need no reply (§A.6, §B.2, §B.3).
		wcs.MsgPong: silent,
		wcs.MsgPing: silent,
		// The logger pushes without a readiness check and must never get an error (§B.21).
		wcs.MsgPushLogs: silent,
		// Metrics add-on (§B.22): we never announce metrics, accept and ignore.
		"webRTCMetricsClientDescription": silent,
		"webRTCMetricsBatch":             silent,
	}
}

// handleFrame decodes and dispatches one client frame. Bad input never ends the session: it is
// logged, counted and answered with a fail frame (docs/protocol.md §A.3, §0 rule 13).
func (s *Session) handleFrame(b []byte) {
	env, err := wcs.Decode(b, s.cfg.MaxFrameBytes)
	if err != nil {
		s.m.Error(metrics.ReasonMalformed)
		s.log.Warn().Err(err).Int("bytes", len(b)).Msg("malformed frame")
		s.sendFail("", "Malformed message: "+err.Error())
		return
	}
	s.m.Received(env.Message)
	h, ok := handlers[env.Message]
	if !ok {
		s.m.Error(metrics.ReasonUnknownMessage)
		s.log.Debug().Str("message", env.Message).Msg("unknown message ignored")
		return
	}
	if h.ready && !s.connected {
		s.notReady(env, h.stream)
		return
	}
	h.fn(s, env)
}

// notReady answers a message that came before connection with "Session not ready" (§D.4), routed
// to the stream when the frame names one so the SDK does not leave it PENDING.
func (s *Session) notReady(env wcs.Envelope, stream bool) {
	s.m.Error(metrics.ReasonNotReady)
	s.log.Warn().Str("message", env.Message).Msg("message before connection")
	if id := streamIDOf(env); stream && id != "" {
		s.sendStreamFail(id, "", env.Message == wcs.MsgPublishStream || env.Message == wcs.MsgUnPublishStream,
			wcs.InfoSessionNotReady)
		return
	}
	s.sendFail("", wcs.InfoSessionNotReady)
}

// badArgument answers a message whose argument has the wrong shape. When a mediaSessionId can
// still be read, the stream is failed by id: a stream left PENDING makes stop() spin (§0 rule 10).
func (s *Session) badArgument(env wcs.Envelope, err error) {
	s.m.Error(metrics.ReasonMalformed)
	s.log.Warn().Err(err).Str("message", env.Message).Msg("bad message argument")
	info := fmt.Sprintf("Bad %s message: %v", env.Message, err)
	if id := streamIDOf(env); id != "" && (env.Message == wcs.MsgPublishStream || env.Message == wcs.MsgPlayStream) {
		if _, taken := s.streams[id]; !taken {
			s.sendStreamFail(id, "", env.Message == wcs.MsgPublishStream, info)
			return
		}
	}
	s.sendFail("", info)
}

// streamIDOf reads data[0].mediaSessionId from any frame, leniently, or "".
func streamIDOf(env wcs.Envelope) string {
	var obj map[string]json.RawMessage
	if env.Arg(0, &obj) != nil {
		return ""
	}
	var id wcs.String
	if raw, ok := obj["mediaSessionId"]; !ok || json.Unmarshal(raw, &id) != nil {
		return ""
	}
	return string(id)
}

// onConnection establishes the session (docs/protocol.md §B.1, §E.1). REST hooks are not wired yet: the
// session behaves as WCS with hooks off (defaultApp), accepting any appKey.
func (s *Session) onConnection(env wcs.Envelope) {
	start := time.Now()
	if s.connected {
		s.log.Warn().Msg("second connection message ignored")
		s.sendFail(wcs.APIConnectionStatusEvent, "Connection already established")
		return
	}
	raw := map[string]json.RawMessage{}
	if len(env.Data) > 0 {
		if err := env.Arg(0, &raw); err != nil && !isNoArgument(err) {
			s.m.Error(metrics.ReasonMalformed)
			s.log.Warn().Err(err).Msg("bad connection message")
			s.sendFail(wcs.APIConnectionStatusEvent, fmt.Sprintf("Bad connection message: %v", err))
			return
		}
		if raw == nil { // data:[null]
			raw = map[string]json.RawMessage{}
		}
	}
	var appKey wcs.String
	if v, ok := raw["appKey"]; ok {
		_ = json.Unmarshal(v, &appKey)
	}
	if s.reattach(raw) {
		return
	}
	s.appKey = string(appKey)
	if s.appKey == "" && s.cfg.Apps != nil {
		s.appKey = rest.DefaultApp // what the WebSDK sends when the page names none
	}
	if !s.admit(raw) {
		return
	}
	s.connected, s.fields = true, raw
	var keep wcs.Bool
	_ = json.Unmarshal(raw["keepAlive"], &keep)
	s.keepAlive = bool(keep)
	// getUserData echoes every received field (sipLogin in particular, §0 rule 2), then getVersion.
	s.sendClient(wcs.MsgGetUserData, hooks.ConnectionStatusEvent, wcs.UserData(raw, s.cfg.SessionID))
	s.m.SessionSetup.Observe(time.Since(start).Seconds())
	s.send(wcs.MsgGetVersion, wcs.Version)
	s.post(hooks.ConnectionStatusEvent, s.connectionFields(wcs.SessionEstablished, ""))
	s.log.Info().Str("appKey", s.appKey).Msg("session established")
	s.startSIP(registerRequired(raw))
}

// onSendData accepts client data: with no OnDataEvent backend the answer is ACCEPTED (§E.14).
func (s *Session) onSendData(env wcs.Envelope) {
	var req wcs.SendDataRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	res := s.invoke(hooks.OnDataEvent, map[string]any{"operationId": string(req.OperationID), "payload": req.Payload})
	status := wcs.DataStatus{OperationID: string(req.OperationID), Status: wcs.DataAccepted}
	if proceed, _ := hooks.Decide(hooks.OnDataEvent, res, s.hookCfg.Load()); !proceed {
		status.Status, status.Info = wcs.DataFailed, res.Info
	}
	s.send(wcs.MsgDataStatusEvent, status)
	s.post(hooks.DataStatusEvent, map[string]any{"operationId": status.OperationID, "status": status.Status,
		"info": status.Info})
}

// onSnapshot answers snapshotFailed: snapshots need the ffmpeg workers of mediad (§B.9, §E.17),
// which this control contract does not offer yet. An answer keeps the SDK's promise from hanging.
func (s *Session) onSnapshot(env wcs.Envelope) {
	id := streamIDOf(env)
	if id == "" {
		s.sendFail("", "Bad snapshot message: no mediaSessionId")
		return
	}
	s.send(wcs.MsgNotifyStreamEvent, wcs.StreamEvent{MediaSessionID: id, Type: "snapshotFailed",
		Payload: json.RawMessage(`{"info":"Snapshot is not supported"}`)})
}
