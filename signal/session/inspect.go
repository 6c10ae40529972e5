package session

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/logging"
)

// What the management REST API asks of one session (docs/protocol.md §G.2). The session's state
// belongs to its Run goroutine, so each question runs there (Do) and waits at most until ctx
// ends: a session busy with a slow media daemon or backend is left out of the answer, it does not
// hold the answer up.

// call is one function for Run to execute.
type call struct {
	fn   func()
	done chan struct{}
}

// Do runs fn on the session's goroutine and returns once it has run; false when the session
// ended or ctx ended first (fn then may still run, later, or never).
func (s *Session) Do(ctx context.Context, fn func()) bool {
	c := call{fn: fn, done: make(chan struct{})}
	select {
	case s.calls <- c:
	case <-s.done:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-c.done:
		return true
	case <-s.done:
		return false
	case <-ctx.Done():
		return false
	}
}

// Streams returns the session's media sessions that f matches, as /stream/find shows them.
func (s *Session) Streams(ctx context.Context, f rest.StreamFilter) []rest.Stream {
	var out []rest.Stream
	s.Do(ctx, func() {
		metrics := slices.Contains(f.Display, "metrics")
		for _, ms := range s.sorted() {
			if s.matches(ms, f) {
				out = append(out, s.restStream(ms, metrics))
			}
		}
	})
	return out
}

// Holds reports whether the session has media session id on the media daemon node. A session too
// busy to answer within ctx is taken to hold it: a wrong yes leaves a stale media session for
// the daemon's own checks, a wrong no would stop a live one.
func (s *Session) Holds(ctx context.Context, id, node string) bool {
	held := false
	if !s.Do(ctx, func() {
		ms := s.streams[id]
		held = ms != nil && ms.node == node
	}) {
		return ctx.Err() != nil
	}
	return held
}

// TerminateStreams ends the media sessions f matches, each with its terminal status and "Stopped
// by rest /terminate" (§G.2), and returns how many.
func (s *Session) TerminateStreams(ctx context.Context, f rest.StreamFilter) int {
	n := 0
	s.Do(ctx, func() {
		for _, ms := range s.sorted() {
			if !s.matches(ms, f) {
				continue
			}
			status := wcs.StatusStopped
			if ms.publisher {
				status = wcs.StatusUnpublished
			}
			s.terminate(ms, status, wcs.InfoStoppedByRestTerminate, true)
			n++
		}
	})
	return n
}

func (s *Session) matches(ms *mediaSession, f rest.StreamFilter) bool {
	switch {
	case f.Name != "" && f.Name != ms.name,
		f.MediaSessionID != "" && f.MediaSessionID != ms.id,
		len(f.MediaSessionIDs) > 0 && !slices.Contains(f.MediaSessionIDs, ms.id),
		f.Status != "" && f.Status != ms.status,
		f.Published != nil && *f.Published != ms.publisher,
		f.SessionID != "" && f.SessionID != s.cfg.SessionID:
		return false
	}
	return true
}

func (s *Session) restStream(ms *mediaSession, metrics bool) rest.Stream {
	st := ms.stream(ms.status, "")
	kind := "play"
	if ms.publisher {
		kind = "publish"
	}
	transport := string(ms.req.Transport)
	if transport == "" {
		transport = "UDP"
	}
	out := rest.Stream{NodeID: s.cfg.NodeID, AppKey: s.appKey, SessionID: s.cfg.SessionID,
		MediaSessionID: st.MediaSessionID, Name: st.Name, Published: st.Published, HasVideo: st.HasVideo,
		HasAudio: st.HasAudio, Status: st.Status, AudioCodec: st.AudioCodec, VideoCodec: st.VideoCodec,
		Record: st.Record, Width: st.Width, Height: st.Height, Bitrate: st.Bitrate, MinBitrate: st.MinBitrate,
		MaxBitrate: st.MaxBitrate, Quality: st.Quality, Transport: transport, CreateDate: st.CreateDate,
		MediaType: kind, MediaProvider: st.MediaProvider,
		AudioState: rest.MuteState{Muted: ms.audioMuted}, VideoState: rest.MuteState{Muted: ms.videoMuted},
		Custom: st.Custom}
	if len(out.Custom) == 0 {
		out.Custom = json.RawMessage("{}")
	}
	if metrics {
		out.Metrics = ms.metrics()
	}
	return out
}

// metrics are the figures of the last second the media daemon reported (§C.18); none before the
// first report. Audio figures are not measured yet, so they are absent rather than zero.
func (ms *mediaSession) metrics() map[string]int64 {
	m := map[string]int64{}
	if r := ms.rate; r != nil {
		m[rest.MetricVideoRate] = r.VideoRate
		m[rest.MetricVideoFPS] = int64(r.FPS)
		m[rest.MetricVideoWidth] = int64(r.Width)
		m[rest.MetricVideoHeight] = int64(r.Height)
		m[rest.MetricVideoNACK] = r.NACK
		m[rest.MetricVideoPLI] = r.PLI
		m[rest.MetricVideoLost] = r.LostPackets
	}
	return m
}

// Connection returns the session as /connection/find shows it, or false when it is not
// established (no connection message yet) or did not answer in time.
func (s *Session) Connection(ctx context.Context, f rest.ConnectionFilter) (rest.Connection, bool) {
	var out rest.Connection
	s.Do(ctx, func() {
		if !s.connected || f.AppKey != "" && f.AppKey != s.appKey ||
			f.SessionID != "" && f.SessionID != s.cfg.SessionID ||
			f.ClientVersion != "" && f.ClientVersion != s.fieldString("clientVersion") {
			return
		}
		out = rest.Connection{}
		for k, v := range s.fields {
			out[k] = v
		}
		if _, ok := out["sipPassword"]; ok {
			out["sipPassword"] = "******" // never handed out (docs/protocol.md §G.3)
		}
		out["nodeId"], out["sessionId"], out["appKey"] = s.cfg.NodeID, s.cfg.SessionID, s.appKey
		out["authToken"], out["status"], out["origin"] = s.cfg.SessionID, wcs.SessionEstablished, s.cfg.Origin
	})
	return out, out != nil
}

func (s *Session) fieldString(name string) string {
	var v wcs.String
	if raw, ok := s.fields[name]; ok {
		_ = json.Unmarshal(raw, &v)
	}
	return string(v)
}

// PushData sends the client an OnDataEvent (/data/send, §C.12); false when the session is not
// established or did not answer in time.
func (s *Session) PushData(ctx context.Context, d rest.DataSend) bool {
	sent := false
	s.Do(ctx, func() {
		if !s.connected {
			return
		}
		payload := d.Payload
		if len(payload) == 0 {
			payload = json.RawMessage("null")
		}
		s.send(wcs.MsgOnDataEvent, struct {
			NodeID      string          `json:"nodeId"`
			SessionID   string          `json:"sessionId"`
			OperationID string          `json:"operationId,omitempty"`
			Payload     json.RawMessage `json:"payload"`
		}{s.cfg.NodeID, s.cfg.SessionID, d.OperationID, payload})
		sent = true
	})
	return sent
}

// SetLogLevel logs this session at level, or back at the node's level when on is false, for
// /connection/set_log_level and /logger/enable_client_log: one client can be traced without
// raising every session's level.
func (s *Session) SetLogLevel(ctx context.Context, level zerolog.Level, on bool) bool {
	return s.Do(ctx, func() {
		s.releaseLog()
		s.log = s.baseLog
		if on {
			s.log, s.unraise = logging.Raise(s.baseLog, level)
		}
		s.log.Info().Bool("clientLog", on).Str("level", level.String()).Msg("session log level set")
	})
}

// releaseLog ends a raised log level, if any: the session logs at the node's level again.
func (s *Session) releaseLog() {
	if s.unraise != nil {
		s.unraise()
		s.unraise = nil
	}
}
