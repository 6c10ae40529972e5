package session

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/metrics"
)

// The application's backend as one session sees it (docs/protocol.md §F). Hooks that gate an
// operation (connect, publishStream, playStream, OnDataEvent, sendStreamEvent) are waited for on
// the session's goroutine: this session's next message waits, no other session does. Events go
// through the session's hooks.Queue, in order, and never make the session wait.

// Apps looks an application up by its appKey (signal/apps.Registry).
type Apps interface {
	Get(key string) (rest.App, bool)
}

// InfoAppNotFound refuses a connection whose appKey names no application (§F.2). WCS documents
// no text for it; this one is Potok's.
const InfoAppNotFound = "Application not found"

// ReasonRefused is the WebSocket close reason after a refused connection (§E.1b).
const ReasonRefused = "connection refused"

// hooksDrain bounds how long a session that ended waits for its queued events to reach the
// backend: events are not lost to a normal disconnect, and a dead backend costs one bound.
const hooksDrain = 5 * time.Second

// hookBody is fields with the session's context parameters (§F.3); hooks.Client adds nodeId.
func (s *Session) hookBody(fields map[string]any) map[string]any {
	body := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		body[k] = v
	}
	body["sessionId"], body["appKey"] = s.cfg.SessionID, s.appKey
	return body
}

// invoke sends a hook that gates an operation and waits for its result; skipped (approved)
// without hooks. It goes through the session's queue like the events, so the backend hears the
// session in order: a publishStream never overtakes the StreamStatusEvent of an earlier stream,
// even when the backend is slow to take events (§F.1).
func (s *Session) invoke(method string, fields map[string]any) hooks.Result {
	if s.cfg.Hooks == nil {
		return hooks.Result{}
	}
	if s.queue != nil {
		answered := make(chan hooks.Result, 1)
		if s.queue.Post(method, s.hookBody(fields), func(res hooks.Result) { answered <- res }) {
			select {
			case res := <-answered:
				return res
			case <-s.ctx.Done(): // the session is ending: nothing waits for the answer any more
				return hooks.Result{Called: true, Info: hooks.InfoUnavailable, Err: s.ctx.Err()}
			}
		}
		// The queue is full of events the backend has not taken: send this one beside them
		// rather than fail the operation.
	}
	return s.cfg.Hooks.Invoke(s.ctx, s.app, method, s.hookBody(fields), s.hookCfg.Load())
}

// post queues an event hook. When the backend answers it with an error under restOnError FAIL,
// the client gets a fail ErrorEvent (§F.5); a refused keep-alive ends its stream.
func (s *Session) post(method string, fields map[string]any) {
	if s.queue == nil {
		return
	}
	s.queue.Post(method, s.hookBody(fields), func(res hooks.Result) { s.afterEvent(method, fields, res) })
}

// afterEvent runs on the queue's goroutine: it may only send frames (the Outbox is safe for
// that) and hand work to Run through lossless; it touches no session state.
func (s *Session) afterEvent(method string, fields map[string]any, res hooks.Result) {
	proceed, tell := hooks.Decide(method, res, s.hookCfg.Load())
	if !tell {
		return
	}
	if method == hooks.StreamKeepAliveEvent && !proceed {
		id, _ := fields["mediaSessionId"].(string)
		s.lossless.add(nil, nodeDown{mediaSessionID: id, info: wcs.InfoTerminatedByKeepAlive})
		s.wake()
		return
	}
	if frame, err := wcs.Encode(wcs.MsgFail, wcs.Fail{Status: wcs.StatusFailed, Info: res.Info, APIMethod: hooks.ErrorEvent}); err == nil {
		s.out.Send(frame)
	}
}

// closeHooks sends the session's last event and waits for the queue to drain (hooksDrain).
func (s *Session) closeHooks() {
	if s.queue == nil {
		return
	}
	if s.connected {
		s.post(hooks.ConnectionStatusEvent, s.connectionFields(wcs.SessionDisconnected, ""))
	}
	ctx, cancel := context.WithTimeout(context.Background(), hooksDrain)
	defer cancel()
	if err := s.queue.Close(ctx); err != nil {
		s.log.Warn().Err(err).Msg("hook events not delivered before the session ended")
	}
}

// connectionFields is the body of ConnectionStatusEvent: the connection as received, its status.
func (s *Session) connectionFields(status, info string) map[string]any {
	out := make(map[string]any, len(s.fields)+4)
	for k, v := range s.fields {
		out[k] = v
	}
	out["status"], out["info"], out["authToken"] = status, info, s.cfg.SessionID
	return out
}

// admit runs the connect hook (§E.1): false when the session is refused, which it then is (fail,
// FAILED event, socket closed). On success the answer's fields overwrite the connection's and
// its restClientConfig applies from now on (§F.6).
func (s *Session) admit(raw map[string]json.RawMessage) bool {
	if s.cfg.Apps != nil {
		app, ok := s.cfg.Apps.Get(s.appKey)
		if !ok {
			s.refuse(InfoAppNotFound)
			return false
		}
		s.app = app
	}
	if s.cfg.Hooks == nil {
		return true
	}
	cfg, err := hooks.ParseConfig(s.app.Defaults, nil)
	if err != nil {
		s.log.Warn().Err(err).Msg("application restClientConfig defaults partly ignored")
	}
	s.hookCfg.Store(cfg)
	s.queue = hooks.NewQueue(s.cfg.Hooks, s.app, s.hookCfg.Load, s.log)
	fields := make(map[string]any, len(raw)+1)
	for k, v := range raw {
		fields[k] = v
	}
	fields["origin"] = s.cfg.Origin
	res := s.invoke(hooks.Connect, fields)
	if proceed, _ := hooks.Decide(hooks.Connect, res, cfg); !proceed {
		s.refuse(res.Info)
		return false
	}
	if rcc, ok := res.Body["restClientConfig"]; ok {
		cfg, err := hooks.ParseConfig(s.app.Defaults, rcc)
		if err != nil {
			s.log.Warn().Err(err).Msg("restClientConfig partly ignored")
		}
		s.hookCfg.Store(cfg)
	}
	for k, v := range hooks.Overrides(res, hooks.Connect, s.hookCfg.Load()) {
		raw[k] = v
	}
	return true
}

// refuse ends a session whose connection was refused (§E.1b): fail, the backend told, the socket
// closed once the fail is out.
func (s *Session) refuse(info string) {
	s.log.Info().Str("appKey", s.appKey).Str("info", info).Msg("connection refused")
	s.send(wcs.MsgFail, wcs.Fail{Status: wcs.StatusFailed, Info: info, APIMethod: wcs.APIConnectionStatusEvent})
	if s.queue != nil {
		fields := map[string]any{"status": wcs.SessionFailed, "info": info}
		s.queue.Post(hooks.ConnectionStatusEvent, s.hookBody(fields), nil)
	}
	s.out.Close(websocket.StatusNormalClosure, ReasonRefused)
}

// approveStream runs publishStream or playStream for req (§E.2b): false when the backend refused
// it under restOnError FAIL, and the client has been told. A backend may rename the stream with
// restOverwrite "name" (§F.6).
func (s *Session) approveStream(method string, req *wcs.StreamRequest, publish bool) bool {
	if s.cfg.Hooks == nil {
		return true
	}
	ms := newMediaSession(req, publish, time.Now())
	fields := streamFields(ms.stream(wcs.StatusPending, ""))
	fields["sdp"] = string(req.SDP)
	res := s.invoke(method, fields)
	if proceed, _ := hooks.Decide(method, res, s.hookCfg.Load()); !proceed {
		s.log.Info().Str("mediaSessionId", ms.id).Str("streamName", ms.name).Str("info", res.Info).Msg("stream refused by the backend")
		s.sendStreamFail(ms.id, ms.name, publish, res.Info)
		return false
	}
	if v, ok := hooks.Overrides(res, method, s.hookCfg.Load())["name"]; ok {
		var name wcs.String
		if json.Unmarshal(v, &name) == nil && name != "" && len(name) <= wcs.MaxStreamNameBytes {
			s.log.Info().Str("mediaSessionId", ms.id).Str("from", ms.name).Str("to", string(name)).Msg("stream renamed by the backend")
			req.Name = name
		}
	}
	return true
}

// streamFields is a Stream object as a hook body's fields.
func streamFields(st wcs.Stream) map[string]any {
	b, _ := json.Marshal(st)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// sendStatus tells the client a media session's status (notifyStreamStatusEvent, without the
// fields the backend's clientExclude removes) and the backend StreamStatusEvent.
func (s *Session) sendStatus(ms *mediaSession, status, info string) {
	st := ms.stream(status, info)
	if s.detached {
		s.keepMissed(st) // replayed on a re-attach (reattach.go)
	}
	s.sendClient(wcs.MsgNotifyStreamStatusEvent, hooks.StreamStatusEvent, st)
	s.m.StreamStatuses.WithLabelValues(ms.kind(), metrics.StatusLabel(status)).Inc()
	if s.queue != nil {
		s.post(hooks.StreamStatusEvent, streamFields(st))
	}
}

// sendClient sends obj as the argument of message, without method's clientExclude fields.
func (s *Session) sendClient(message, method string, obj any) {
	cfg := s.hookCfg.Load()
	if _, excl := cfg.Excluded(method); len(excl) == 0 {
		s.send(message, obj)
		return
	}
	b, err := json.Marshal(obj)
	if err == nil {
		b, err = cfg.StripClient(method, b)
	}
	if err != nil {
		s.log.Error().Err(err).Str("message", message).Msg("clientExclude")
		s.send(message, obj)
		return
	}
	s.send(message, json.RawMessage(b))
}

// keepAliveHooks sends StreamKeepAliveEvent for every live stream (§F.4), when the app enables it.
func (s *Session) keepAliveHooks() {
	if s.queue == nil || !hooks.Enabled(s.app.Methods, hooks.StreamKeepAliveEvent) {
		return
	}
	for _, ms := range s.sorted() {
		if ms.status == wcs.StatusPublishing || ms.status == wcs.StatusPlaying {
			s.post(hooks.StreamKeepAliveEvent, streamFields(ms.stream(ms.status, "")))
		}
	}
}
