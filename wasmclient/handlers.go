package wasmclient

import (
	"encoding/json"
	"time"

	"github.com/potok-media/potok/api/wcs"
)

// handlers is the dispatch table of server messages (docs/protocol.md §C.0). Messages not listed are
// ignored, as the WebSDK only logs them.
var handlers = map[string]func(*Session, wcs.Envelope){
	wcs.MsgPing:                    (*Session).onPing,
	wcs.MsgGetUserData:             (*Session).onGetUserData,
	wcs.MsgGetVersion:              (*Session).onGetVersion,
	wcs.MsgSetRemoteSDP:            (*Session).onSetRemoteSDP,
	wcs.MsgNotifyStreamStatusEvent: (*Session).onStreamStatus,
	wcs.MsgNotifyVideoFormat:       (*Session).onVideoFormat,
	wcs.MsgNotifyStreamEvent:       (*Session).onStreamEvent,
	wcs.MsgInboundVideoRate:        (*Session).onVideoRate,
	wcs.MsgOutboundVideoRate:       (*Session).onVideoRate,
	wcs.MsgFail:                    (*Session).onFail,
	wcs.MsgDataStatusEvent:         (*Session).onDataStatus,
	wcs.MsgOnDataEvent:             (*Session).onData,
	wcs.MsgAvailableStream:         (*Session).onAvailableStream,
}

func (s *Session) dispatch(env wcs.Envelope) {
	h, ok := handlers[env.Message]
	if !ok {
		s.log.Debug().Str("message", env.Message).Msg("unhandled server message")
		return
	}
	h(s, env)
}

// onPing answers at once with {"message":"pong","data":[null]} (docs/protocol.md §A.6).
func (s *Session) onPing(wcs.Envelope) {
	if err := s.send(s.ctx, wcs.MsgPong, nil); err != nil {
		s.log.Debug().Err(err).Msg("pong not sent")
	}
}

// onGetUserData makes the session ESTABLISHED (docs/protocol.md §C.1).
func (s *Session) onGetUserData(env wcs.Envelope) {
	var obj map[string]json.RawMessage
	if err := env.Arg(0, &obj); err != nil {
		s.log.Warn().Err(err).Msg("getUserData without an object")
		return
	}
	var token string
	_ = json.Unmarshal(obj["authToken"], &token)
	s.mu.Lock()
	first := s.timeline.Established.IsZero()
	prev, reattached := s.authToken, s.status == SessionReconnecting
	s.userData, s.authToken, s.status = obj, token, SessionEstablished
	s.retryUntil = time.Time{}
	if first {
		s.timeline.Established = time.Now()
	}
	s.mu.Unlock()
	if first {
		close(s.established)
	}
	if reattached {
		s.reattached(prev, token)
	}
}

func (s *Session) onGetVersion(env wcs.Envelope) {
	var v string
	if env.Arg(0, &v) == nil {
		s.mu.Lock()
		s.version = v
		s.mu.Unlock()
	}
}

// onSetRemoteSDP routes data[0] (the mediaSessionId) to its stream (docs/protocol.md §C.5).
func (s *Session) onSetRemoteSDP(env wcs.Envelope) {
	var id, sdp string
	if env.Arg(0, &id) != nil || env.Arg(1, &sdp) != nil {
		s.log.Warn().Msg("setRemoteSDP without id or sdp")
		return
	}
	if st := s.stream(id); st != nil {
		st.onRemoteSDP(sdp)
	}
}

func (s *Session) onStreamStatus(env wcs.Envelope) {
	var obj wcs.Stream
	if err := env.Arg(0, &obj); err != nil {
		s.log.Warn().Err(err).Msg("bad notifyStreamStatusEvent")
		return
	}
	if st := s.stream(obj.MediaSessionID); st != nil {
		st.onStatus(obj)
	}
}

func (s *Session) onVideoFormat(env wcs.Envelope) {
	var obj wcs.VideoFormat
	if err := env.Arg(0, &obj); err != nil {
		return
	}
	if st := s.stream(obj.MediaSessionID); st != nil {
		st.onVideoFormat(obj)
	}
}

func (s *Session) onStreamEvent(env wcs.Envelope) {
	var obj wcs.StreamEvent
	if err := env.Arg(0, &obj); err != nil {
		return
	}
	if st := s.stream(obj.MediaSessionID); st != nil {
		st.onStreamEvent(obj)
	}
}

func (s *Session) onVideoRate(env wcs.Envelope) {
	var obj wcs.VideoRate
	if err := env.Arg(0, &obj); err != nil {
		return
	}
	if st := s.stream(obj.MediaSessionID); st != nil {
		st.onRate(env.Message, obj)
	}
}

// onFail routes apiMethod StreamStatusEvent to the stream by id (it becomes FAILED); every fail is
// also kept as a session warning, as the WebSDK fires WARN for all of them (docs/protocol.md §C.0).
func (s *Session) onFail(env wcs.Envelope) {
	var f wcs.Fail
	if err := env.Arg(0, &f); err != nil {
		return
	}
	s.mu.Lock()
	if len(s.fails) < maxFails {
		s.fails = append(s.fails, f)
	}
	if f.APIMethod == wcs.APIConnectionStatusEvent && s.status != SessionEstablished {
		s.rejected = &f
	}
	s.mu.Unlock()
	if f.APIMethod != wcs.APIStreamStatusEvent {
		return
	}
	if st := s.stream(f.ID); st != nil {
		st.onFail(f)
	}
}
