package session

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
)

// keepAlive sessions (docs/protocol.md §H.8): a session whose connection asked keepAlive:true
// outlives its socket for the grace, media included; a new connection to this node carrying its
// authToken and keepAlive:true takes it over. The session's Outbox is a switchOut, so a
// re-attach is a swap of where frames go, done on the session's goroutine.

// switchOut is the session's Outbox: the connection it sends to, none while detached (frames are
// dropped; the client is told the current state when it comes back).
type switchOut struct {
	mu  sync.Mutex
	cur Outbox
}

func (o *switchOut) Send(frame []byte) bool {
	o.mu.Lock()
	c := o.cur
	o.mu.Unlock()
	return c != nil && c.Send(frame)
}

func (o *switchOut) Close(code websocket.StatusCode, reason string) {
	o.mu.Lock()
	c := o.cur
	o.mu.Unlock()
	if c != nil {
		c.Close(code, reason)
	}
}

// is reports whether the session sends to c now.
func (o *switchOut) is(c Outbox) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cur == c
}

func (o *switchOut) get() Outbox {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cur
}

func (o *switchOut) set(c Outbox) {
	o.mu.Lock()
	o.cur = c
	o.mu.Unlock()
}

// Detach keeps the session after its socket from has gone, when its connection asked keepAlive
// and the node has a grace: true means it waits for a re-attach until the grace ends (then it
// ends as disconnected), or has another socket already (a re-attach took it over). False: the
// caller ends it (DisconnectFrom).
func (s *Session) Detach(from Outbox) bool {
	kept := false
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	s.Do(ctx, func() {
		if !s.out.is(from) {
			kept = true // not this socket's session any more
			return
		}
		if !s.connected || !s.keepAlive || s.cfg.KeepAliveGrace <= 0 || s.detached {
			return
		}
		s.out.set(nil)
		s.detached = true
		s.grace = time.NewTimer(s.cfg.KeepAliveGrace)
		kept = true
		s.log.Info().Dur("grace", s.cfg.KeepAliveGrace).Int("mediaSessions", len(s.streams)).
			Msg("socket gone: keepAlive session kept for a re-attach")
	})
	return kept
}

// DisconnectFrom ends the session after its socket from was closed by its page, unless a
// re-attach has given it another socket since.
func (s *Session) DisconnectFrom(from Outbox) {
	if s.out.is(from) || s.out.is(nil) {
		s.end(false)
	}
}

// Attach gives a keepAlive session the socket of a new connection carrying its authToken: the
// client gets getUserData with the same token and the current status of every media session.
// A session whose socket still looks open takes the new one too and closes the old: a client
// comes back with its token when it has lost its socket, which a server learns only from
// missed pings (a silent network cut), long after. False when the session takes no re-attach
// (not keepAlive, no grace on this node, not connected yet, ended).
func (s *Session) Attach(ctx context.Context, out Outbox, raw map[string]json.RawMessage) bool {
	attached := false
	s.Do(ctx, func() {
		if !s.connected || !s.keepAlive || s.cfg.KeepAliveGrace <= 0 {
			return
		}
		if !s.detached {
			if old := s.out.get(); old != nil {
				defer old.Close(websocket.StatusGoingAway, ReasonReattached)
			}
			s.log.Info().Msg("re-attach while the old socket looks open: the old one is closed")
		}
		s.detached = false
		s.stopGrace()
		s.out.set(out)
		for k, v := range raw { // the new connection's fields, as a connection would be echoed
			if k != "appKey" {
				s.fields[k] = v
			}
		}
		s.sendClient(wcs.MsgGetUserData, hooks.ConnectionStatusEvent, wcs.UserData(s.fields, s.cfg.SessionID))
		s.send(wcs.MsgGetVersion, wcs.Version)
		// What ended while the socket was gone (its publisher's peer connection closed with
		// it, say), then what goes on.
		for _, st := range s.missed {
			s.sendClient(wcs.MsgNotifyStreamStatusEvent, hooks.StreamStatusEvent, st)
		}
		s.missed = nil
		for _, ms := range s.sorted() {
			s.sendClient(wcs.MsgNotifyStreamStatusEvent, hooks.StreamStatusEvent, ms.stream(ms.status, ""))
		}
		attached = true
		s.log.Info().Int("mediaSessions", len(s.streams)).Msg("keepAlive session re-attached")
	})
	return attached
}

// ReasonReattached closes a socket whose session a new connection re-attached.
const ReasonReattached = "Re-attached by a new connection"

// maxMissed bounds the statuses kept for a detached session: a session has at most
// wcs.MaxMediaSessions media sessions, each ending once.
const maxMissed = 2 * wcs.MaxMediaSessions

// keepMissed keeps a status a detached session could not send.
func (s *Session) keepMissed(st wcs.Stream) {
	if len(s.missed) < maxMissed {
		s.missed = append(s.missed, st)
	}
}

// graceC is the detached session's grace timer, nil while attached.
func (s *Session) graceC() <-chan time.Time {
	if s.grace == nil {
		return nil
	}
	return s.grace.C
}

func (s *Session) stopGrace() {
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
}

// graceOver ends a detached session nobody re-attached: as a disconnect (§E.8).
func (s *Session) graceOver() {
	s.grace = nil
	s.log.Info().Msg("keepAlive grace over: session ends")
	s.end(false)
}

// HandedOver reports whether this session gave its socket to a detached session it re-attached
// (its connection carried that session's authToken): it then ends without closing the socket.
func (s *Session) HandedOver() bool { return s.handedOver.Load() }

// reattach offers a connection with keepAlive and an authToken to the node (Config.Reattach); on
// success this session has handed its socket over and ends.
func (s *Session) reattach(raw map[string]json.RawMessage) bool {
	if s.cfg.Reattach == nil {
		return false
	}
	var token wcs.String
	var keep wcs.Bool
	_ = json.Unmarshal(raw["authToken"], &token)
	_ = json.Unmarshal(raw["keepAlive"], &keep)
	if token == "" || !keep || string(token) == s.cfg.SessionID {
		return false
	}
	if !s.cfg.Reattach(string(token), raw) {
		s.log.Info().Str("authToken", string(token)).Msg("no detached session of that authToken: a new session")
		return false
	}
	s.handedOver.Store(true)
	s.out.set(nil) // the socket is the re-attached session's now
	s.end(false)
	return true
}
