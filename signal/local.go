package signal

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/cluster"
)

// This node's answers to the management REST API (signal/cluster.Local). Every session is asked
// at once: one busy session costs the answer its own streams, not everyone's time.

var _ cluster.Local = (*Server)(nil)

// ReasonTerminated is the WebSocket close reason of /connection/terminate.
const ReasonTerminated = "terminated by the REST API"

// Streams lists this node's media sessions that f matches, and the streams it pulls.
func (s *Server) Streams(ctx context.Context, f rest.StreamFilter) []rest.Stream {
	out := collect(s.snapshot(), func(c *client) []rest.Stream { return c.sess.Streams(ctx, f) })
	return append(out, s.pulledStreams(f)...)
}

// pulledStreams are the pulls this node owns (/pull/pull) that f matches, as publishers of
// session "pull" (docs/protocol.md §G.2).
func (s *Server) pulledStreams(f rest.StreamFilter) []rest.Stream {
	var out []rest.Stream
	for _, p := range s.ctl.HeldPulls() {
		st := rest.Stream{NodeID: s.cfg.NodeID, SessionID: control.PullSession, MediaSessionID: p.ID, Name: p.Name,
			Published: true, HasVideo: true, HasAudio: true, Status: wcs.StatusPublishing, Transport: "UDP",
			CreateDate: p.Created, MediaType: "pull", MediaProvider: "WebRTC", Custom: json.RawMessage("{}")}
		if f.Matches(st) {
			out = append(out, st)
		}
	}
	return out
}

// TerminateStreams ends this node's media sessions that f matches, and the pulls it matches.
func (s *Server) TerminateStreams(ctx context.Context, f rest.StreamFilter) int {
	counts := collect(s.snapshot(), func(c *client) []int { return []int{c.sess.TerminateStreams(ctx, f)} })
	n := 0
	for _, k := range counts {
		n += k
	}
	for _, st := range s.pulledStreams(f) {
		if err := s.ctl.TerminatePull(ctx, st.Name); err != nil {
			s.log.Warn().Err(err).Str("streamName", st.Name).Msg("terminate a pulled stream")
			continue
		}
		n++
	}
	return n
}

// Connections lists this node's established sessions that f matches.
func (s *Server) Connections(ctx context.Context, f rest.ConnectionFilter) []rest.Connection {
	return collect(s.snapshot(), func(c *client) []rest.Connection {
		if f.SessionID != "" && f.SessionID != c.sess.ID() {
			return nil
		}
		if conn, ok := c.sess.Connection(ctx, f); ok {
			return []rest.Connection{conn}
		}
		return nil
	})
}

// TerminateConnection closes a session's socket: the session then ends as on any disconnect
// (docs/protocol.md §E.8).
func (s *Server) TerminateConnection(_ context.Context, sessionID string) bool {
	s.mu.Lock()
	c := s.clients[sessionID]
	var to conn
	if c != nil {
		to = c.conn
	}
	s.mu.Unlock()
	if c == nil {
		return false
	}
	s.log.Info().Str("sessionId", sessionID).Msg("connection terminated by the REST API")
	if to != nil {
		to.Close(websocket.StatusNormalClosure, ReasonTerminated)
	}
	c.sess.Disconnect() // ended, not kept for a keepAlive re-attach
	return true
}

// SendData delivers an OnDataEvent to a session of this node.
func (s *Server) SendData(ctx context.Context, d rest.DataSend) bool {
	if d.NodeID != "" && d.NodeID != s.cfg.NodeID {
		return false
	}
	c := s.client(d.SessionID)
	return c != nil && c.sess.PushData(ctx, d)
}

// Calls are the SIP calls of this node's sessions that f matches (/call/find).
func (s *Server) Calls(ctx context.Context, f rest.CallFilter) []rest.Call {
	return collect(s.snapshot(), func(c *client) []rest.Call { return c.sess.Calls(ctx, f) })
}

// TerminateCall hangs up the call id, whichever of this node's sessions has it.
func (s *Server) TerminateCall(ctx context.Context, id string) bool {
	found := collect(s.snapshot(), func(c *client) []bool {
		if c.sess.TerminateCall(ctx, id) {
			return []bool{true}
		}
		return nil
	})
	return len(found) > 0
}

// CallDTMF sends a DTMF symbol on the call d names, whichever of this node's sessions has it.
func (s *Server) CallDTMF(ctx context.Context, d rest.CallDTMF) (bool, error) {
	errs := collect(s.snapshot(), func(c *client) []error {
		if found, err := c.sess.CallDTMF(ctx, d); found {
			return []error{err}
		}
		return nil
	})
	if len(errs) == 0 {
		return false, nil
	}
	return true, errs[0]
}

// SetClientLog turns a session's own log level on (l.LogLevel, e.g. "DEBUG") or off ("").
func (s *Server) SetClientLog(ctx context.Context, l rest.ClientLog) (bool, error) {
	c := s.client(l.SessionID)
	if c == nil {
		return false, nil
	}
	on := l.LogLevel != ""
	level := zerolog.DebugLevel
	if on {
		var err error
		if level, err = zerolog.ParseLevel(strings.ToLower(l.LogLevel)); err != nil || level == zerolog.NoLevel {
			return false, fmt.Errorf("unknown log level %q: use TRACE, DEBUG, INFO, WARN or ERROR", l.LogLevel)
		}
	}
	return c.sess.SetLogLevel(ctx, level, on), nil
}

// Stats are this node's figures for the statistics page, in WCS's groups and key names
// (docs/protocol.md §G.2). Potok has WebRTC streams only: the other kinds are counted as the
// zero they are.
func (s *Server) Stats(ctx context.Context) map[string]map[string]any {
	streams := s.Streams(ctx, rest.StreamFilter{})
	in, out := 0, 0
	for _, st := range streams {
		if st.Published {
			in++
		} else {
			out++
		}
	}
	n := s.Sessions()
	return map[string]map[string]any{
		"connection": {"connections": n, "connections_websocket": n},
		"stream": {"streams_webrtc_in": in, "streams_webrtc_out": out, "streams_rtmp_in": 0, "streams_rtmp_out": 0,
			"streams_rtsp_in": 0, "streams_rtsp_out": 0, "streams_rtmfp_in": 0, "streams_rtmfp_out": 0},
		"core": {"core_threads": runtime.NumGoroutine(), "signal_nodes": 1},
	}
}

func (s *Server) client(sessionID string) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clients[sessionID]
}

// collect runs ask on every client at once and concatenates the results.
func collect[T any](clients []*client, ask func(*client) []T) []T {
	parts := make([][]T, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { parts[i] = ask(c) })
	}
	wg.Wait()
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
