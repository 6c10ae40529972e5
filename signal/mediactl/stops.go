package mediactl

import (
	"context"
	"sync"

	"github.com/potok-media/potok/api/control"
)

// maxPendingStops bounds the stops kept while the control plane is unreachable; past it the
// oldest are dropped (their daemons end them at the grace, or when their peers' ICE fails).
const maxPendingStops = 10_000

// stops keeps the stop requests the control plane could not deliver (NATS down, or the daemon
// not reconnected yet after a restart), to send them again once it can: without them a media
// daemon would keep a session its signal node has already ended — its stream name taken there,
// its players left waiting — until the peer connection timed out. A stop is idempotent: one for
// a session that has ended meanwhile is answered without error.
type stops struct {
	mu      sync.Mutex
	pending []pendingStop
}

type pendingStop struct {
	node string
	req  control.StopRequest
}

func (s *stops) add(node string, req control.StopRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPendingStops {
		s.pending = s.pending[1:]
	}
	s.pending = append(s.pending, pendingStop{node: node, req: req})
}

func (s *stops) take() []pendingStop {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

func (s *stops) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// flushStops sends the kept stops again. A stop for a daemon found down (or gone from the
// directory) is dropped: its sessions are gone with it. One that fails again is kept, and so are
// the others for the same daemon, tried again at the next heartbeat.
func (c *Client) flushStops(ctx context.Context) {
	if c.stops.count() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, control.NodeHeartbeat)
	defer cancel()
	failed := map[string]bool{}
	sent := 0
	for _, p := range c.stops.take() {
		if _, known := c.nodes.incarnation(p.node); !known || c.nodes.isDown(p.node) {
			continue
		}
		if failed[p.node] || ctx.Err() != nil {
			c.stops.add(p.node, p.req)
			continue
		}
		var rep control.StopReply
		if err := c.rpc(ctx, p.node, control.OpStop, p.req, &rep); err != nil {
			failed[p.node] = true
			c.stops.add(p.node, p.req)
			continue
		}
		sent++
		if rep.Error != "" {
			c.log.Warn().Str("mediaNode", p.node).Str("mediaSessionId", p.req.MediaSessionID).Str("error", rep.Error).
				Msg("kept stop refused")
		}
	}
	if sent > 0 {
		c.log.Info().Int("stops", sent).Msg("stops kept during a control-plane fault sent")
	}
}
