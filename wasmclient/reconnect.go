package wasmclient

import (
	"context"
	"errors"
	"time"

	"github.com/potok-media/potok/api/wcs"
)

// Re-attach pacing (SessionOptions.Reconnect).
const (
	reconnectFirst = 250 * time.Millisecond
	reconnectMax   = 4 * time.Second
	dialTimeout    = 5 * time.Second
)

// InfoSessionLost is the info of the streams a re-attach could not keep: the server had ended
// the session (its grace passed, or it restarted) and gave a new one.
const InfoSessionLost = "Session lost"

// reconnect is asked by the read loop whether to go on after err ended a socket: with
// SessionOptions.Reconnect, a lost socket of an established session is dialled again (with its
// authToken, connectionObject) until one opens and takes the `connection`, or ReconnectFor
// passes. The read loop then reads the new socket; its getUserData re-establishes the session.
func (s *Session) reconnect(err error) bool {
	s.mu.Lock()
	eligible := s.opts.Reconnect && !s.closing && !s.dropped && s.rejected == nil &&
		!s.timeline.Established.IsZero() && !errors.Is(err, errNormalClosure)
	if eligible && s.retryUntil.IsZero() {
		s.retryUntil = time.Now().Add(s.opts.ReconnectFor)
	}
	until := s.retryUntil
	if eligible {
		s.status = SessionReconnecting
	}
	s.mu.Unlock()
	if !eligible {
		return false
	}
	s.log.Info().Err(err).Msg("socket lost, re-attaching")
	s.notify(SessionReconnecting, err)
	backoff := reconnectFirst
	for time.Now().Before(until) {
		select {
		case <-s.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, reconnectMax)
		ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
		conn, err := dial(ctx, s.url, s.opts)
		cancel()
		if err != nil {
			s.log.Debug().Err(err).Msg("re-attach dial")
			continue
		}
		s.mu.Lock()
		closing := s.closing
		if !closing {
			s.conn = conn
		}
		s.mu.Unlock()
		if closing { // Close came meanwhile: it closed the old socket, not this one
			_ = conn.closeNow()
			return false
		}
		if err := s.send(s.ctx, wcs.MsgConnection, s.connectionObject()); err != nil {
			_ = conn.closeNow()
			continue
		}
		return true
	}
	return false
}

// reattached runs on the getUserData that answers a re-attach: the same token is the same
// session, whose streams go on (the server sends their statuses, §H.8); another token is a new
// session, and the streams of the old one are gone.
func (s *Session) reattached(prev, token string) {
	if token != prev {
		s.mu.Lock()
		streams := make([]*Stream, 0, len(s.streams))
		for _, st := range s.streams {
			streams = append(streams, st)
		}
		s.streams = map[string]*Stream{}
		s.mu.Unlock()
		for _, st := range streams {
			st.localEnd(wcs.StatusFailed, InfoSessionLost)
		}
	}
	s.log.Info().Bool("sameSession", token == prev).Msg("re-attached")
	s.notify(SessionEstablished, nil)
}

func (s *Session) notify(status string, err error) {
	if s.opts.OnStatus != nil {
		s.opts.OnStatus(status, err)
	}
}
