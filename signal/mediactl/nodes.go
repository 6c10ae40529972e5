package mediactl

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
)

// nodeView is the in-memory copy of the nodes bucket, so placing a media session costs no KV read.
// The bucket's TTL removes stale records without telling watchers, so liveness is judged by when a
// record was last seen.
type nodeView struct {
	mu        sync.Mutex
	nodes     map[string]*nodeEntry // by KV key
	ready     chan struct{}         // closed once the bucket's initial values are applied
	readyOnce sync.Once
	delivered time.Time // when the watcher last delivered anything (this clock)
	resumed   time.Time // when it delivered again after stalling
	// drained are the media daemons whose record was deleted while it said Draining: they left
	// at the end of a drain, so what they still held ended "Media server shutdown", not "lost".
	drained map[string]bool
}

// watchStall is how long a watcher may deliver nothing before it counts as stalled. Every node
// rewrites its record each NodeHeartbeat, this signal node included, so a watcher that works
// delivers about once a heartbeat or more. One that does not (its consumer gone with a NATS
// server and not re-created yet while the JetStream cluster elects a meta leader, or the bucket's
// stream without a leader so that no record can be written) shows every media daemon silent,
// which proves nothing about them. It is below NodeDownAfter minus a heartbeat, so a stall long
// enough to make a live daemon look down is always seen as one.
const watchStall = 3 * control.NodeHeartbeat

type nodeEntry struct {
	rec    control.NodeRecord
	seen   time.Time
	placed int  // sessions placed here since its last heartbeat: spreads a burst between heartbeats
	down   bool // reported down already
}

func newNodeView() *nodeView {
	return &nodeView{nodes: map[string]*nodeEntry{}, ready: make(chan struct{}), drained: map[string]bool{}}
}

// watch applies bucket updates until ctx ends, the watcher fails or rewatch asks for a new
// watcher; a media daemon whose record is deleted is reported to down at once.
func (v *nodeView) watch(ctx context.Context, w jetstream.KeyWatcher, rewatch <-chan struct{}, log zerolog.Logger, down, back func(string)) {
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-rewatch:
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			v.heard(time.Now())
			if e == nil { // the end of the initial values
				if initial {
					initial = false
					v.readyOnce.Do(func() { close(v.ready) })
				}
				continue
			}
			gone, again := v.apply(e, log)
			if gone != "" && down != nil {
				down(gone)
			}
			if again != "" && back != nil {
				back(again)
			}
		}
	}
}

// heard records a delivery by the watcher at now.
func (v *nodeView) heard(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.delivered.IsZero() || now.Sub(v.delivered) > watchStall {
		v.resumed = now
	}
	v.delivered = now
}

// from is the moment from which silence counts at now, given upSince, the caller's: zero (nothing
// to judge) stays zero; a watcher that is stalled makes it now (everyone counts as just heard,
// nobody can be judged), and one that resumed after upSince makes it the moment it resumed, so
// every node has NodeDownAfter from then to show up. Called with mu held.
func (v *nodeView) from(now, upSince time.Time) time.Time {
	switch {
	case upSince.IsZero():
		return upSince
	case v.delivered.IsZero() || now.Sub(v.delivered) > watchStall:
		return now
	case v.resumed.After(upSince):
		return v.resumed
	}
	return upSince
}

// apply records one update and returns the id of a live media daemon it removed, if any.
func (v *nodeView) apply(e jetstream.KeyValueEntry, log zerolog.Logger) (gone, back string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		old := v.nodes[e.Key()]
		delete(v.nodes, e.Key())
		if old != nil && old.rec.Kind == control.KindMediad && !old.down {
			if old.rec.Draining {
				v.drained[old.rec.ID] = true
			}
			return old.rec.ID, ""
		}
		return "", ""
	}
	var rec control.NodeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		log.Warn().Err(err).Str("key", e.Key()).Msg("malformed node record")
		return "", ""
	}
	old := v.nodes[e.Key()]
	v.nodes[e.Key()] = &nodeEntry{rec: rec, seen: e.Created()}
	delete(v.drained, rec.ID)
	// A media daemon restarted under the same id within the TTL never looked dead, but it has
	// forgotten every session of its previous life.
	if old != nil && old.rec.Kind == control.KindMediad && !old.down && old.rec.Started != rec.Started {
		log.Warn().Str("mediaNode", rec.ID).Msg("media node restarted")
		return old.rec.ID, ""
	}
	// Judged down, then heard again in the same life: it stalled or was cut off, and still holds
	// what this node ended when it judged it.
	if old != nil && old.rec.Kind == control.KindMediad && old.down && old.rec.Started == rec.Started {
		log.Warn().Str("mediaNode", rec.ID).Msg("media node judged down is back")
		return "", rec.ID
	}
	return "", ""
}

// heard is when n was last heard from, as far as judging it goes: a node cannot be blamed for
// silence while the control plane itself was unreachable, so the moment the link came up counts
// as hearing from everyone.
func heard(n *nodeEntry, upSince time.Time) time.Time {
	if upSince.After(n.seen) {
		return upSince
	}
	return n.seen
}

// liveMediad reports whether n is a media daemon heard from within NodeDownAfter.
func liveMediad(n *nodeEntry, now, upSince time.Time) bool {
	return n.rec.Kind == control.KindMediad && !n.down && now.Sub(heard(n, upSince)) <= control.NodeDownAfter
}

// sweep returns the media daemons that stopped heartbeating since the last sweep (killed,
// crashed or cut off): NodeDownAfter without a record update. Nothing is judged while the link
// is down (upSince zero) or the watcher is stalled (from).
func (v *nodeView) sweep(now, upSince time.Time) []string {
	if upSince.IsZero() {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	upSince = v.from(now, upSince)
	var out []string
	for _, n := range v.nodes {
		if n.rec.Kind == control.KindMediad && !n.down && !liveMediad(n, now, upSince) {
			n.down = true
			out = append(out, n.rec.ID)
		}
	}
	return out
}

// placeable reports whether n may take a new media session: a live media daemon that is not
// draining (SIGTERM received: it refuses new sessions and ends its old ones, design.md
// "Failure"). A draining daemon is still live for everything else: its streams go on and their
// names stay claimed, so it is never judged down for draining.
func placeable(n *nodeEntry, now, upSince time.Time) bool {
	return liveMediad(n, now, upSince) && !n.rec.Draining
}

// deadSignals returns the signal nodes whose record has not been refreshed within NodeTTL, the
// moment the bucket expires it and the media daemons end its media sessions (a signal node
// killed or cut off: one that stops cleanly deletes its record and releases its names itself).
// Each is reported once; nothing is judged while the link is down or the watcher stalled.
func (v *nodeView) deadSignals(now, upSince time.Time) []control.NodeRecord {
	if upSince.IsZero() {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	upSince = v.from(now, upSince)
	var out []control.NodeRecord
	for _, n := range v.nodes {
		if n.rec.Kind == control.KindSignal && !n.down && now.Sub(heard(n, upSince)) > control.NodeTTL {
			n.down = true
			out = append(out, n.rec)
		}
	}
	return out
}

// pick returns the live mediad with the least load other than except (the origin, when placing
// a relayed player), and counts the placement.
func (v *nodeView) pick(now, upSince time.Time, except string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	upSince = v.from(now, upSince)
	var best *nodeEntry
	for _, n := range v.nodes {
		if !placeable(n, now, upSince) || n.rec.ID == except { // draining daemons take no new sessions (issue 8 item 6)
			continue
		}
		if best == nil || load(n) < load(best) || load(n) == load(best) && n.rec.ID < best.rec.ID {
			best = n
		}
	}
	if best == nil {
		return "", false
	}
	best.placed++
	return best.rec.ID, true
}

// liveMediads counts the media daemons that can take a session now (draining ones cannot).
func (v *nodeView) liveMediads(now, upSince time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	upSince = v.from(now, upSince)
	n := 0
	for _, e := range v.nodes {
		if placeable(e, now, upSince) {
			n++
		}
	}
	return n
}

// load is what placement compares: media sessions, pulls (each a peer connection to another
// server) and the placements made since the last heartbeat.
func load(n *nodeEntry) int { return n.rec.MediaSessions + n.rec.Load.Pulls + n.placed }

// aliveAs reports whether node heartbeats as a node of kind, in the incarnation started (0: any;
// records written before incarnations were kept carry none). Media daemons are alive until found
// down; signal nodes while their record lives (NodeTTL).
func (v *nodeView) aliveAs(node, kind string, started int64, now, upSince time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.nodes[control.NodeKey(node)]
	if n == nil || n.rec.ID != node || n.rec.Kind != kind || started != 0 && n.rec.Started != started {
		return false
	}
	upSince = v.from(now, upSince)
	if kind == control.KindMediad {
		return liveMediad(n, now, upSince)
	}
	return now.Sub(heard(n, upSince)) <= control.NodeTTL
}

// isDown reports whether node is a media daemon already reported down.
func (v *nodeView) isDown(node string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.nodes[control.NodeKey(node)]
	return n != nil && n.rec.ID == node && n.down
}

// incarnation returns the Started of node's current record.
func (v *nodeView) incarnation(node string) (int64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.nodes[control.NodeKey(node)]
	if n == nil {
		return 0, false
	}
	return n.rec.Started, true
}

// liveRecords lists the records of kind written within NodeTTL of now, by id: the signal nodes
// a cluster-wide REST answer waits for (signal/cluster), the candidates of the lbUrl lookup.
func (v *nodeView) liveRecords(kind string, now time.Time) []control.NodeRecord {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []control.NodeRecord
	for _, n := range v.nodes {
		if n.rec.Kind == kind && !n.down && now.Sub(n.seen) <= control.NodeTTL {
			out = append(out, n.rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// leftDrained reports whether node's record was deleted at the end of a drain.
func (v *nodeView) leftDrained(node string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.drained[node]
}
