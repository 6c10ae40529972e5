package wasmclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/potok-media/potok/api/wcs"
)

// maxData bounds the OnDataEvent payloads a session keeps.
const maxData = 256

// SendData sends payload to the application's backend (sendData → the OnDataEvent hook,
// docs/protocol.md §B.11) and waits for its DataStatusEvent: ACCEPTED, or FAILED with the
// backend's reason in Info.
func (s *Session) SendData(ctx context.Context, payload any) (wcs.DataStatus, error) {
	id := uuid.NewString()
	ch := make(chan wcs.DataStatus, 1)
	s.mu.Lock()
	if s.dataWaits == nil {
		s.dataWaits = map[string]chan wcs.DataStatus{}
	}
	s.dataWaits[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.dataWaits, id)
		s.mu.Unlock()
	}()
	if err := s.send(ctx, wcs.MsgSendData, map[string]any{"operationId": id, "payload": payload}); err != nil {
		return wcs.DataStatus{}, err
	}
	select {
	case st := <-ch:
		return st, nil
	case <-ctx.Done():
		return wcs.DataStatus{}, fmt.Errorf("wasmclient: sendData %s: %w", id, ctx.Err())
	case <-s.done:
		return wcs.DataStatus{}, fmt.Errorf("wasmclient: sendData %s: session closed", id)
	}
}

// onDataStatus resolves the SendData waiting for this operationId (§C.11).
func (s *Session) onDataStatus(env wcs.Envelope) {
	var st wcs.DataStatus
	if err := env.Arg(0, &st); err != nil {
		s.log.Warn().Err(err).Msg("DataStatusEvent without an object")
		return
	}
	s.mu.Lock()
	ch := s.dataWaits[st.OperationID]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- st:
		default:
		}
	}
}

// AvailableStream asks whether a stream of this name can be played (availableStream, docs/protocol.md
// §B.8, §C.10) as the WebSDK's stream.available() does: true, or false with the server's reason
// ("Stream not found").
func (s *Session) AvailableStream(ctx context.Context, name string) (bool, string, error) {
	id := uuid.NewString()
	ch := make(chan wcs.AvailableStream, 1)
	s.mu.Lock()
	if s.availWaits == nil {
		s.availWaits = map[string]chan wcs.AvailableStream{}
	}
	s.availWaits[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.availWaits, id)
		s.mu.Unlock()
	}()
	if err := s.send(ctx, wcs.MsgAvailableStream, map[string]any{"mediaSessionId": id, "name": name}); err != nil {
		return false, "", err
	}
	select {
	case a := <-ch:
		return a.Status == "true", a.Info, nil // a string, compared as the SDK does (§0 item 7)
	case <-ctx.Done():
		return false, "", fmt.Errorf("wasmclient: availableStream %s: %w", name, ctx.Err())
	case <-s.done:
		return false, "", fmt.Errorf("wasmclient: availableStream %s: %w", name, ErrClosed)
	}
}

func (s *Session) onAvailableStream(env wcs.Envelope) {
	var a wcs.AvailableStream
	if err := env.Arg(0, &a); err != nil {
		s.log.Warn().Err(err).Msg("availableStream without an object")
		return
	}
	s.mu.Lock()
	ch := s.availWaits[a.ID]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- a:
		default:
		}
	}
}

// DataEvent is an OnDataEvent the server pushed (the REST API's /data/send, §C.12).
type DataEvent struct {
	NodeID      string          `json:"nodeId"`
	SessionID   string          `json:"sessionId"`
	OperationID string          `json:"operationId"`
	Payload     json.RawMessage `json:"payload"`
}

func (s *Session) onData(env wcs.Envelope) {
	var ev DataEvent
	if err := env.Arg(0, &ev); err != nil {
		s.log.Warn().Err(err).Msg("OnDataEvent without an object")
		return
	}
	s.mu.Lock()
	if len(s.data) < maxData {
		s.data = append(s.data, ev)
	}
	s.mu.Unlock()
	if s.opts.OnData != nil {
		s.opts.OnData(ev)
	}
}

// Data returns the OnDataEvents received so far (the first 256).
func (s *Session) Data() []DataEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DataEvent(nil), s.data...)
}

// SendEvent sends a publisher's stream event (sendStreamEvent, docs/protocol.md §B.10): the
// server fans it out to every player of the stream as notifyStreamEvent of that type.
func (st *Stream) SendEvent(ctx context.Context, typ string, payload json.RawMessage) error {
	if !st.published {
		return fmt.Errorf("%w: only a publisher sends stream events", ErrBadOptions)
	}
	ev := map[string]any{"mediaSessionId": st.id, "type": typ}
	if payload != nil { // undefined in the SDK's mute events: JSON.stringify leaves it out
		ev["payload"] = payload
	}
	return st.s.send(ctx, wcs.MsgSendStreamEvent, ev)
}

// DropSocket cuts the WebSocket without a close handshake and leaves the streams' peer
// connections running, as a network cut does: a keepAlive session (SessionOptions.Extra
// "keepAlive": true) then waits on the server for a re-attach by its authToken
// (docs/protocol.md §H.8). The session is lost here; Close still releases its streams.
func (s *Session) DropSocket() {
	s.mu.Lock()
	s.dropped = true
	s.mu.Unlock()
	_ = s.sock().closeNow()
}

// Stream event types a publisher's mute and unmute send, as the WebSDK's STREAM_EVENT_TYPE
// (docs/protocol.md §B.10).
const (
	EventAudioMuted   = "audioMuted"
	EventAudioUnmuted = "audioUnmuted"
	EventVideoMuted   = "videoMuted"
	EventVideoUnmuted = "videoUnmuted"
)

// MuteAudio stops sending audio and tells the players (sendStreamEvent audioMuted), as the
// WebSDK's stream.muteAudio() does; UnmuteAudio, MuteVideo and UnmuteVideo likewise. The peer
// connection stays up: a browser sends silence or black frames, the native client nothing.
func (st *Stream) MuteAudio(ctx context.Context) error { return st.setMuted(ctx, "audio", true) }

// UnmuteAudio resumes sending audio (sendStreamEvent audioUnmuted).
func (st *Stream) UnmuteAudio(ctx context.Context) error { return st.setMuted(ctx, "audio", false) }

// MuteVideo stops sending video (sendStreamEvent videoMuted).
func (st *Stream) MuteVideo(ctx context.Context) error { return st.setMuted(ctx, "video", true) }

// UnmuteVideo resumes sending video (sendStreamEvent videoUnmuted).
func (st *Stream) UnmuteVideo(ctx context.Context) error { return st.setMuted(ctx, "video", false) }

func (st *Stream) setMuted(ctx context.Context, kind string, muted bool) error {
	if !st.published {
		return fmt.Errorf("%w: only a publisher mutes what it sends", ErrBadOptions)
	}
	if !st.peer.mute(kind, muted) {
		return fmt.Errorf("%w: the stream sends no %s", ErrBadOptions, kind)
	}
	typ := map[bool]string{true: EventAudioMuted, false: EventAudioUnmuted}[muted]
	if kind == "video" {
		typ = map[bool]string{true: EventVideoMuted, false: EventVideoUnmuted}[muted]
	}
	return st.SendEvent(ctx, typ, nil)
}
