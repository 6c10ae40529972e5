package mediad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/bus"
)

// heartbeat writes the node record (control.NodeRecord) with the current load.
func (d *Daemon) heartbeat(ctx context.Context) error {
	d.mu.Lock()
	n := len(d.sessions)
	d.mu.Unlock()
	rec, _ := json.Marshal(control.NodeRecord{ID: d.cfg.NodeID, Kind: control.KindMediad, MediaSessions: n,
		Started: d.started.UnixMilli(), Version: Version, Draining: d.draining.Load(), Load: d.measure()})
	if _, err := d.dir.Nodes.Put(ctx, control.NodeKey(d.cfg.NodeID), rec); err != nil {
		return fmt.Errorf("mediad: heartbeat: %w", err)
	}
	return nil
}

// heartbeatLoop keeps the node record fresh, sweeps for orphaned sessions and follows the
// control plane's faults (design.md "Faults of NATS itself"): after a reconnection the record is
// written at once (the buckets re-created first if a restarted server lost them); past the grace
// every media session ends, since no signal node can be told about it any more.
func (d *Daemon) heartbeatLoop(events <-chan bus.LinkEvent) {
	t := time.NewTicker(d.cfg.Heartbeat)
	defer t.Stop()
	seen := map[string]bool{}  // signal nodes whose record this daemon has read since the directory was back
	known := map[string]bool{} // signal nodes whose record it has ever read
	// writing is since when this daemon's heartbeats have reached the directory without a break
	// (zero while they do not). While nobody can write the directory (NATS down, or a JetStream
	// cluster electing the bucket's leader after a server's failover) a signal node's record can
	// expire with the node alive, and reads may still be answered (by a replica): a record
	// missing then, or found missing after, proves nothing until the node has been seen again or
	// the directory has taken writes for a whole TTL.
	var writing time.Time
	for {
		select {
		case <-d.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil // closed link: the process is stopping
				continue
			}
			d.onLink(ev)
			writing = time.Time{}
			if ev == bus.LinkUp {
				clear(seen) // what was seen before the outage proves nothing about a restarted server
			}
		case <-t.C:
			// Nothing is written while the link is down: the write would only wait for its
			// timeout, holding up the link's events (LinkLost ends the sessions at the grace).
			if d.link.Up() {
				ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Heartbeat)
				d.beat(ctx)
				switch {
				case !d.dirOK.Load():
					writing = time.Time{}
					clear(seen)
				case d.link.Up():
					if writing.IsZero() {
						writing = time.Now()
					}
					settled := d.absenceMeansGone() && time.Since(writing) >= control.NodeTTL
					d.reapOrphans(ctx, seen, known, settled)
					d.checkRelays(ctx)
				}
				cancel()
			}
			d.sweeps.Add(1)
		}
	}
}

// beat writes the node record; when that fails while connected, the buckets may be gone (a
// restarted server), so they are ensured and the write tried once more.
func (d *Daemon) beat(ctx context.Context) {
	err := d.heartbeat(ctx)
	if err != nil && d.link.Up() && d.ctx.Err() == nil {
		if d.dir.Ensure(ctx) == nil {
			d.link.Reasserted("buckets")
			err = d.heartbeat(ctx)
		}
	}
	d.dirOK.Store(err == nil)
	if err == nil {
		d.met.heartbeat.Store(time.Now().UnixNano())
	}
	if err != nil && d.ctx.Err() == nil && d.link.Up() {
		d.log.Warn().Err(err).Msg("heartbeat")
	}
}

func (d *Daemon) onLink(ev bus.LinkEvent) {
	switch ev {
	case bus.LinkDown:
		d.dirOK.Store(false)
		d.log.Warn().Msg("control plane unreachable: media sessions go on; new ones are refused")
	case bus.LinkUp:
		// The record first, within a heartbeat: it is what tells signal nodes that this daemon
		// lives. Verifying the buckets before it could hold the loop for seconds on a JetStream
		// cluster electing a leader for one of them (after a server's failover), and a daemon
		// silent for NodeDownAfter is down. beat verifies them itself when the write fails, as
		// after a restarted server that lost them.
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Heartbeat)
		defer cancel()
		d.beat(ctx)
		if !d.dirOK.Load() {
			d.log.Warn().Msg("control plane back, directory not usable yet")
			return
		}
		d.link.Reasserted("node")
		d.log.Info().Msg("control plane back: node record re-asserted")
	case bus.LinkLost:
		n := d.endOwnedBy(func(control.Owner) bool { return true })
		d.log.Error().Int("mediaSessions", n).Msg("control plane lost for longer than the grace: media sessions ended")
	}
}

// absenceMeansGone reports whether a missing record may be read as a dead node: the link has
// been up for a whole TTL, so every live node has rewritten its record since any restart.
func (d *Daemon) absenceMeansGone() bool {
	up := d.link.UpSince()
	return !up.IsZero() && time.Since(up) >= control.NodeTTL
}

// Ready reports whether the daemon can take new media sessions: the control plane is reachable
// and the last heartbeat reached the directory.
func (d *Daemon) Ready() error {
	switch {
	case !d.link.Up():
		return errors.New("control plane unreachable")
	case !d.dirOK.Load():
		return errors.New("directory not usable")
	case d.draining.Load():
		return errors.New("draining")
	}
	return nil
}

// reapOrphans ends the media sessions of signal nodes whose record has gone (expired or deleted),
// and of previous lives of signal nodes restarted under the same id: their WebSockets are gone
// with them, so nobody will ever stop these sessions (design.md "Failure"). A missing record
// counts only for a node seen alive since the directory last came back (the link up, this
// daemon's heartbeats written), or for one seen before once both have lasted a whole TTL
// (settled): an owner that never registers (tests, a node whose first heartbeat is late) is left
// alone, and so is every owner while a restarted server's bucket fills again or after a spell in
// which nobody could write its record.
func (d *Daemon) reapOrphans(ctx context.Context, seen, known map[string]bool, settled bool) {
	d.mu.Lock()
	owners := map[string]bool{}
	for _, s := range d.sessions {
		owners[s.owner.SignalNode] = true
	}
	for _, p := range d.pulls {
		owners[p.req.SignalNode] = true
	}
	d.mu.Unlock()
	for node := range owners {
		e, err := d.dir.Nodes.Get(ctx, control.NodeKey(node))
		switch {
		case err == nil:
			seen[node], known[node] = true, true
			var rec control.NodeRecord
			if json.Unmarshal(e.Value(), &rec) == nil && rec.Started != 0 {
				d.reapPreviousLives(node, rec.Started)
			}
		case errors.Is(err, jetstream.ErrKeyNotFound) && (seen[node] || settled && known[node]):
			delete(seen, node)
			delete(known, node)
			d.log.Warn().Str("signalNode", node).Msg("signal node gone: ending its media sessions")
			d.endOwnedBy(func(o control.Owner) bool { return o.SignalNode == node })
		}
	}
}

func (d *Daemon) reapPreviousLives(node string, started int64) {
	stale := func(o control.Owner) bool {
		return o.SignalNode == node && o.SignalStarted != 0 && o.SignalStarted != started
	}
	d.mu.Lock()
	n := 0
	for _, s := range d.sessions {
		if stale(s.owner) {
			n++
		}
	}
	for _, p := range d.pulls {
		if stale(p.req.Owner) {
			n++
		}
	}
	d.mu.Unlock()
	if n > 0 {
		d.log.Warn().Str("signalNode", node).Int("sessions", n).Msg("signal node restarted: ending the media sessions of its previous life")
		d.endOwnedBy(stale)
	}
}
