package signal

import (
	"context"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
)

// A media daemon judged down (silent for control.NodeDownAfter) and then heard again in the
// same life stalled (SIGSTOP, a frozen VM) or was cut off from the control plane. Meanwhile this
// node ended every media session it had there (its clients got FAILED "Media server lost") and
// may have let the names go to new publishers elsewhere; the daemon, which judged nothing, still
// holds them with their peer connections. Reconciling asks it for the media sessions this node
// owns there and stops each that no session of this node still holds on it, so that a daemon
// that comes back serves only what the cluster knows.

// reconcileTimeout bounds one reconciliation: a list and a stop per stale media session.
const reconcileTimeout = 4 * control.RequestTimeout

// nodeBack starts the reconciliation with node, which is back (mediactl OnNodeBack).
func (s *Server) nodeBack(node string) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.reconcile(node)
	}()
}

func (s *Server) reconcile(node string) {
	ctx, cancel := context.WithTimeout(context.Background(), reconcileTimeout)
	defer cancel()
	log := s.log.With().Str("mediaNode", node).Logger()
	owners, err := s.ctl.Owned(ctx, node)
	if err != nil {
		log.Warn().Err(err).Msg("media node back: its media sessions not reconciled")
		return
	}
	stopped := 0
	for _, o := range owners {
		if s.holds(ctx, o, node) {
			continue
		}
		if err := s.ctl.Stop(ctx, node, control.StopRequest{Owner: o, Info: wcs.InfoMediaNodeLost}); err != nil {
			log.Warn().Err(err).Str("mediaSessionId", o.MediaSessionID).Msg("stale media session not stopped")
			continue
		}
		stopped++
	}
	log.Info().Int("held", len(owners)-stopped).Int("stopped", stopped).Msg("media node back: stale media sessions stopped")
}

// holds reports whether a session of this node (this life) still has o's media session on node.
func (s *Server) holds(ctx context.Context, o control.Owner, node string) bool {
	if o.SignalStarted != 0 && o.SignalStarted != s.ctl.Started() {
		return false
	}
	c := s.client(o.SessionID)
	if c == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return c.sess.Holds(ctx, o.MediaSessionID, node)
}
