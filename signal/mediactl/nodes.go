package mediactl

import (
	"context"
	"encoding/json"
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
	mu    sync.Mutex
	nodes map[string]*nodeEntry // by KV key
	ready chan struct{}         // closed once the bucket's initial values are applied
}

type nodeEntry struct {
	rec    control.NodeRecord
	seen   time.Time
	placed int  // sessions placed here since its last heartbeat: spreads a burst between heartbeats
	down   bool // reported down already
}

func newNodeView() *nodeView {
	return &nodeView{nodes: map[string]*nodeEntry{}, ready: make(chan struct{})}
}

// watch applies bucket updates until ctx ends; a media daemon whose record is deleted is reported
// to down at once.
func (v *nodeView) watch(ctx context.Context, w jetstream.KeyWatcher, log zerolog.Logger, down func(string)) {
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // the end of the initial values
				if initial {
					initial = false
					close(v.ready)
				}
				continue
			}
			if gone := v.apply(e, log); gone != "" && down != nil {
				down(gone)
			}
		}
	}
}

// apply records one update and returns the id of a live media daemon it removed, if any.
func (v *nodeView) apply(e jetstream.KeyValueEntry, log zerolog.Logger) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		old := v.nodes[e.Key()]
		delete(v.nodes, e.Key())
		if old != nil && old.rec.Kind == control.KindMediad && !old.down {
			return old.rec.ID
		}
		return ""
	}
	var rec control.NodeRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		log.Warn().Err(err).Str("key", e.Key()).Msg("malformed node record")
		return ""
	}
	old := v.nodes[e.Key()]
	v.nodes[e.Key()] = &nodeEntry{rec: rec, seen: e.Created()}
	// A media daemon restarted under the same id within the TTL never looked dead, but it has
	// forgotten every session of its previous life.
	if old != nil && old.rec.Kind == control.KindMediad && !old.down && old.rec.Started != rec.Started {
		log.Warn().Str("mediaNode", rec.ID).Msg("media node restarted")
		return old.rec.ID
	}
	return ""
}

// sweep returns the media daemons whose heartbeat expired since the last sweep. The bucket's TTL
// drops their records silently, so this is how their loss is noticed.
func (v *nodeView) sweep(now time.Time) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, n := range v.nodes {
		if n.rec.Kind == control.KindMediad && !n.down && now.Sub(n.seen) > control.NodeTTL {
			n.down = true
			out = append(out, n.rec.ID)
		}
	}
	return out
}

// pick returns the live mediad with the least load, and counts the placement.
func (v *nodeView) pick(now time.Time) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var best *nodeEntry
	for _, n := range v.nodes {
		if n.rec.Kind != control.KindMediad || now.Sub(n.seen) > control.NodeTTL {
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

func load(n *nodeEntry) int { return n.rec.MediaSessions + n.placed }

// aliveAs reports whether node heartbeats as a node of kind, in the incarnation started (0: any;
// records written before incarnations were kept carry none).
func (v *nodeView) aliveAs(node, kind string, started int64, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.nodes[control.NodeKey(node)]
	return n != nil && n.rec.ID == node && n.rec.Kind == kind && now.Sub(n.seen) <= control.NodeTTL &&
		(started == 0 || n.rec.Started == started)
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
