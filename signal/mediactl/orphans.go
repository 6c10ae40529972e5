package mediactl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
)

// orphanQueue bounds the dead signal nodes waiting for their names to be freed; past it one is
// dropped and its names are freed lazily, by the next publish of each (takeOver).
const orphanQueue = 16

// Dead signal nodes' stream names (design.md "Failure"). A signal node killed or cut off cannot
// release its claims, and the media daemons may not write the streams bucket (their NATS
// credentials forbid it), so every surviving signal node frees them once it finds the node's
// record expired: each claim still naming that node, in that incarnation, has its publisher
// stopped at its media daemon (its players there get FAILED "Stopped by publisher stop", and the
// daemon's own check of the name passes again) and is then deleted on the revision read. Every
// step is idempotent or a compare-and-set, so several surviving nodes doing it at once is
// harmless, and a claim taken over meanwhile by a new publisher (another revision) is left alone.

// orphansLoop frees the names of the dead signal nodes sent on dead until ctx ends. It runs apart
// from the heartbeat, since a scan of the streams bucket may take longer than a heartbeat.
func (c *Client) orphansLoop(ctx context.Context, dead <-chan control.NodeRecord) {
	for {
		select {
		case <-ctx.Done():
			return
		case rec := <-dead:
			n, err := c.freeNamesOf(ctx, rec)
			ev := c.log.Warn().Str("signalNode", rec.ID).Int("freed", n)
			if err != nil && ctx.Err() == nil {
				ev = ev.Err(err)
			}
			ev.Msg("signal node gone: its stream names freed")
		}
	}
}

// signalDead queues rec for orphansLoop without blocking the heartbeat loop.
func (c *Client) signalDead(rec control.NodeRecord) {
	if rec.ID == c.cfg.NodeID {
		return
	}
	if c.cfg.OnSignalDown != nil {
		c.cfg.OnSignalDown(rec.ID)
	}
	select {
	case c.deadSignals <- rec:
	default:
		c.log.Warn().Str("signalNode", rec.ID).Msg("too many dead signal nodes at once: their names are freed on their next publish")
	}
}

// freeNamesOf frees every claim of the dead signal node rec and returns how many it deleted.
func (c *Client) freeNamesOf(ctx context.Context, rec control.NodeRecord) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*control.RequestTimeout)
	defer cancel()
	keys, err := c.dir.Streams.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("mediactl: list stream names: %w", err)
	}
	defer func() { _ = keys.Stop() }()
	freed := 0
	var errs []error
	for key := range keys.Keys() {
		ok, err := c.freeIfOrphan(ctx, key, rec)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			freed++
		}
	}
	return freed, errors.Join(errs...)
}

// freeIfOrphan deletes the claim under key if it still belongs to the dead node rec, after
// stopping its publisher at its media daemon.
func (c *Client) freeIfOrphan(ctx context.Context, key string, dead control.NodeRecord) (bool, error) {
	e, err := c.dir.Streams.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mediactl: read claim %s: %w", key, err)
	}
	var sr control.StreamRecord
	if json.Unmarshal(e.Value(), &sr) != nil || sr.SignalNode != dead.ID ||
		sr.SignalStarted != 0 && dead.Started != 0 && sr.SignalStarted != dead.Started {
		return false, nil
	}
	// The stop names the whole owner, incarnation included, as the daemon requires. A daemon
	// that is down has nothing to stop; a stop that fails is not kept (the daemon ends the
	// session itself when it finds the owner's record gone).
	if !c.nodes.isDown(sr.MediaNode) {
		owner := control.Owner{SignalNode: sr.SignalNode, SignalStarted: sr.SignalStarted, SessionID: sr.SessionID,
			MediaSessionID: sr.MediaSessionID}
		var rep control.StopReply
		if err := c.rpc(ctx, sr.MediaNode, control.OpStop, control.StopRequest{Owner: owner,
			Info: wcs.InfoStoppedByPublisherStop}, &rep); err != nil {
			c.log.Debug().Err(err).Str("streamName", sr.Name).Msg("stop a dead signal node's publisher")
		}
	}
	if err := (release{name: sr.Name, rev: e.Revision()}).send(ctx, c.dir.Streams); err != nil {
		return false, fmt.Errorf("mediactl: free %q: %w", sr.Name, err)
	}
	return true, nil
}
