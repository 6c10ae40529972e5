package session

import (
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/signal/metrics"
)

// connectionDeadline runs on Run's goroutine when Config.ConnectionDeadline has passed since the
// socket opened: a session still not established is closed with a reason the client can read
// (README "Limits that protect the server", docs/protocol.md §E.1b). 500 sockets that never sent
// connection were once held for 50 s each, until the keep-alive gave up on them. A connection
// message whose connect hook is still deciding holds Run, so the deadline is looked at only once
// the hook has answered: an admitted session is established by then, a refused one is already
// closing.
func (s *Session) connectionDeadline() {
	if s.connected {
		return
	}
	s.m.Refuse(metrics.RefusedDeadline)
	s.log.Info().Dur("deadline", s.cfg.ConnectionDeadline).Msg("no connection message in time, closing the socket")
	s.out.Close(websocket.StatusPolicyViolation, ConnectionDeadlineReason(s.cfg.ConnectionDeadline))
}

// ConnectionDeadlineReason is the close reason of a socket that did not send connection within
// deadline.
func ConnectionDeadlineReason(deadline time.Duration) string {
	return fmt.Sprintf("No connection message within %s", deadline)
}
