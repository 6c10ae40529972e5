// Package mediactl is the signal node's side of the control plane (api/control): the in-memory view
// of live media daemons kept by a KV watcher, stream-name claims in the streams bucket, the RPCs to
// mediad, the subscription to the media events addressed to this node, and this node's heartbeat.
package mediactl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/signal/metrics"
)

// Errors callers branch on.
var (
	ErrNameInUse        = errors.New("mediactl: stream name is already in use")
	ErrNoMediaNode      = errors.New("mediactl: no live media node")
	ErrNotPublished     = errors.New("mediactl: stream not found")
	ErrControlPlaneDown = errors.New("mediactl: control plane unreachable")
)

// Config of a Client.
type Config struct {
	NodeID string
	// Sessions reports this node's WS session count for its heartbeat (nil = 0).
	Sessions func() int
	// Endpoint reports where clients reach this node, for its heartbeat (nil = not said): the
	// load-balancer lookup answers with the least loaded node's (docs/protocol.md §H.7).
	Endpoint func() *control.Endpoint
	// OnEvent receives every MediaEvent addressed to this node, on the NATS delivery goroutine: it
	// must not block.
	OnEvent func(control.MediaEvent)
	// OnNodeDown is told when a media daemon leaves or its heartbeat stops; it must not block.
	OnNodeDown func(nodeID string)
	// OnNodeBack is told when a media daemon judged down is heard again in the same life (it
	// stalled or was cut off); it must not block.
	OnNodeBack func(nodeID string)
	// OnSignalDown is told when another signal node's record expires (it was killed or cut
	// off); it must not block.
	OnSignalDown func(nodeID string)
	// OnControlPlaneLost is told when the control plane has been unreachable for longer than the
	// link's grace; it must not block.
	OnControlPlaneLost func()
	// Directory is how the directory buckets are stored.
	Directory bus.DirectoryConfig
}

// Client is one signal node's connection to the media tier.
type Client struct {
	cfg    Config
	link   *bus.Link
	nc     *nats.Conn
	dir    *bus.Directory
	log    zerolog.Logger
	m      *metrics.Signal
	nodes  *nodeView
	claims *claims
	stops  stops // stops the control plane could not deliver, sent again once it can
	pulls  pulls // the pulls this node owns (pulls.go)
	sub    *nats.Subscription
	dirOK  atomic.Bool // the last heartbeat reached the directory (readiness)
	// assertedFor is the link's UpSince (UnixNano) for which the directory was made whole again
	// (reassert): until then a restarted server may lack this node's claims, so a lookup would
	// call a live stream missing and a claim could take a live name.
	assertedFor atomic.Int64
	// dirSince (UnixNano) is since when this node's heartbeats have reached the directory without
	// a break, 0 while they do not: no media daemon is judged down for a silence meanwhile, since
	// while this node cannot write the directory it cannot tell whether they can.
	dirSince atomic.Int64
	// deadSignals are the signal nodes found dead, whose stream names orphansLoop frees.
	deadSignals chan control.NodeRecord

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started int64 // epoch ms
}

// New opens the directory, starts the node watcher and the heartbeat, and subscribes to events.
func New(ctx context.Context, cfg Config, link *bus.Link, m *metrics.Signal, log zerolog.Logger) (*Client, error) {
	dir, err := bus.OpenDirectory(ctx, link.Conn, cfg.Directory)
	if err != nil {
		return nil, fmt.Errorf("mediactl: %w", err)
	}
	c := &Client{cfg: cfg, link: link, nc: link.Conn, dir: dir, log: log, m: m, nodes: newNodeView(),
		claims: newClaims(), deadSignals: make(chan control.NodeRecord, orphanQueue)}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.sub, err = c.nc.Subscribe(control.SignalEventsSubject(cfg.NodeID), c.onEventMsg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mediactl: subscribe events: %w", err)
	}
	// The first heartbeat is written before serving, so other nodes know this one as soon as it
	// can own anything.
	c.started = time.Now().UnixMilli()
	c.beat(ctx)
	c.assertedFor.Store(link.UpSince().UnixNano()) // nothing to put back yet
	events := link.Watch()
	rewatch := make(chan struct{}, 1)
	c.wg.Add(3)
	go func() { defer c.wg.Done(); c.watchNodes(runCtx, rewatch) }()
	go func() { defer c.wg.Done(); c.orphansLoop(runCtx, c.deadSignals) }()
	go func() { defer c.wg.Done(); c.heartbeat(runCtx, events, rewatch) }()
	// Know the live media daemons before serving the first publish.
	select {
	case <-c.nodes.ready:
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("mediactl: initial node list: %w", ctx.Err())
	case <-time.After(control.RequestTimeout):
		c.log.Warn().Msg("initial node list not received yet")
	}
	return c, nil
}

// Close stops the watcher, the heartbeat and the subscription, and removes this node's record.
func (c *Client) Close() {
	_ = c.sub.Unsubscribe()
	c.cancel()
	c.wg.Wait()
	c.pulls.close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.dir.Nodes.Delete(ctx, control.NodeKey(c.cfg.NodeID)); err != nil {
		c.log.Debug().Err(err).Msg("remove node record")
	}
}

// watchNodes keeps the node view fed from the nodes bucket. A watcher does not survive its
// bucket being re-created by a restarted server, so it is started again whenever rewatch says
// the directory was re-asserted.
func (c *Client) watchNodes(ctx context.Context, rewatch <-chan struct{}) {
	for ctx.Err() == nil {
		w, err := c.dir.Nodes.WatchAll(ctx)
		if err != nil {
			c.log.Debug().Err(err).Msg("watch nodes")
			select {
			case <-ctx.Done():
				return
			case <-rewatch:
			case <-time.After(control.NodeHeartbeat):
			}
			continue
		}
		c.nodes.watch(ctx, w, rewatch, c.log, c.nodeDown, c.cfg.OnNodeBack)
	}
}

func (c *Client) onEventMsg(msg *nats.Msg) {
	var ev control.MediaEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		c.log.Warn().Err(err).Msg("malformed media event")
		return
	}
	if ev.SessionID == control.PullSession { // about a pull of this node, no client's
		c.onPullEvent(ev)
		return
	}
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

// heartbeat keeps this signal node's record alive in the nodes bucket, notices media daemons
// that stopped heartbeating (design.md "Failure"), and follows the control plane's faults: after a
// reconnection the directory is re-asserted; past the grace the owner is told.
func (c *Client) heartbeat(ctx context.Context, events <-chan bus.LinkEvent, rewatch chan<- struct{}) {
	beat := time.NewTicker(control.NodeHeartbeat)
	defer beat.Stop()
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for beats := 1; ; {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			c.onLink(ctx, ev, rewatch)
		case <-beat.C:
			// Nothing is written while the link is down: a write would wait for its timeout and
			// hold up the link's events (a LinkLost would end the streams late).
			if !c.link.Up() {
				continue
			}
			switch {
			case c.assertErr() != nil:
				c.reassert(ctx, rewatch) // the last attempt failed: try again
			case !c.beatOnce(ctx) && c.link.Up() && ctx.Err() == nil:
				c.reassert(ctx, rewatch) // a bucket may be gone without a reconnection we saw
			default:
				c.flushReleases(ctx) // releases that failed while connected are not left behind
			}
			c.flushStops(ctx) // core NATS is enough for them, the directory need not be back
			if beats++; beats%tombstoneSweepBeats == 0 {
				c.sweepTombstones(ctx)
			}
		case now := <-sweep.C:
			since := c.heardSince()
			for _, id := range c.nodes.sweep(now, since) {
				c.nodeDown(id)
			}
			for _, rec := range c.nodes.deadSignals(now, since) {
				c.signalDead(rec)
			}
		}
	}
}

// sweepInterval is how often silent media daemons are looked for: a killed daemon is noticed
// within NodeDownAfter plus this.
const sweepInterval = 250 * time.Millisecond

func (c *Client) onLink(ctx context.Context, ev bus.LinkEvent, rewatch chan<- struct{}) {
	switch ev {
	case bus.LinkDown:
		c.dirOK.Store(false)
		c.dirSince.Store(0)
		c.log.Warn().Msg("control plane unreachable: streams go on; new ones are refused")
	case bus.LinkUp:
		c.reassert(ctx, rewatch)
	case bus.LinkLost:
		c.log.Error().Msg("control plane lost for longer than the grace")
		if c.cfg.OnControlPlaneLost != nil {
			c.cfg.OnControlPlaneLost()
		}
	}
}

// reassert makes the directory whole again after a fault: buckets verified (re-created if the
// server lost them), this node's record written, its stream claims put back, the node watcher
// restarted, and releases that could not be sent while disconnected sent now. Until it has
// succeeded for the link's current up, the directory is not used for new streams (assertErr);
// a failed attempt is retried at the next heartbeat.
func (c *Client) reassert(ctx context.Context, rewatch chan<- struct{}) {
	up := c.link.UpSince()
	if up.IsZero() {
		return
	}
	// This node's record first (beatOnce bounds it): it is what tells the media daemons that this
	// node lives, and verifying the buckets can take the whole timeout below, at every attempt, on
	// a JetStream cluster electing a leader for one of them. Written while the buckets are gone (a
	// restarted server), it fails at once and is written again once they are back.
	beaten := c.beatOnce(ctx)
	rctx, cancel := context.WithTimeout(ctx, control.RequestTimeout)
	defer cancel()
	if err := c.dir.Ensure(rctx); err != nil {
		c.log.Warn().Err(err).Msg("directory not usable yet")
		return
	}
	c.link.Reasserted("buckets")
	if beaten || c.beat(rctx) {
		c.link.Reasserted("node")
	}
	kept, lost, failed := c.claims.reassert(rctx, c.dir.Streams, c.log)
	if kept > 0 {
		c.link.Reasserted("claims")
	}
	if lost > 0 {
		c.log.Error().Int("claims", lost).Msg("stream names claimed by another node while the control plane was down")
	}
	c.claims.flushReleases(rctx, c.dir.Streams, c.log)
	c.flushStops(rctx)
	select {
	case rewatch <- struct{}{}:
		c.link.Reasserted("watch")
	default:
	}
	if failed > 0 {
		c.log.Warn().Int("claims", failed).Msg("stream claims not re-asserted yet")
		return
	}
	c.assertedFor.Store(up.UnixNano())
	c.log.Info().Int("claims", kept).Msg("directory re-asserted")
}

// assertErr is ErrControlPlaneDown unless the link is up and the directory has been re-asserted
// since it came up.
func (c *Client) assertErr() error {
	up := c.link.UpSince()
	if up.IsZero() || c.assertedFor.Load() != up.UnixNano() {
		return ErrControlPlaneDown
	}
	return nil
}

// flushReleases sends the releases still pending, if any.
func (c *Client) flushReleases(ctx context.Context) {
	if !c.claims.hasPending() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, control.RequestTimeout)
	defer cancel()
	c.claims.flushReleases(rctx, c.dir.Streams, c.log)
}

// Released stream names leave delete markers in the directory; every signal node sweeps the old
// ones about once a minute (several nodes sweeping is harmless).
const (
	tombstoneSweepBeats = 30
	tombstoneAge        = 5 * time.Minute
)

func (c *Client) sweepTombstones(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, control.RequestTimeout)
	defer cancel()
	n, err := c.dir.PurgeStreamTombstones(ctx, tombstoneAge)
	switch {
	case err != nil && ctx.Err() == nil:
		c.log.Warn().Err(err).Msg("sweep released stream names")
	case n > 0:
		c.log.Debug().Int("purged", n).Msg("swept released stream names")
	}
}

// beatOnce is a heartbeat bounded by two heartbeat intervals, so a write that gets no answer
// holds up the loop (and the link's events) for no longer.
func (c *Client) beatOnce(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*control.NodeHeartbeat)
	defer cancel()
	return c.beat(ctx)
}

// heardSince is the moment silence of media daemons counts from when sweeping for dead ones:
// when this node's heartbeats last started to reach the directory (dirSince), or when the link
// came up if later; zero while the directory fails, and nothing is judged then.
func (c *Client) heardSince() time.Time {
	n := c.dirSince.Load()
	up := c.link.UpSince()
	if n == 0 || up.IsZero() {
		return time.Time{}
	}
	if since := time.Unix(0, n); since.After(up) {
		return since
	}
	return up
}

// beat writes this node's record once and reports whether it reached the directory.
func (c *Client) beat(ctx context.Context) bool {
	rec := control.NodeRecord{ID: c.cfg.NodeID, Kind: control.KindSignal, Started: c.started, Version: wcs.Version}
	if c.cfg.Sessions != nil {
		rec.MediaSessions = c.cfg.Sessions()
		rec.Load.Sessions = rec.MediaSessions
	}
	if c.cfg.Endpoint != nil {
		rec.Endpoint = c.cfg.Endpoint()
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return false
	}
	_, err = c.dir.Nodes.Put(ctx, control.NodeKey(c.cfg.NodeID), body)
	c.dirOK.Store(err == nil)
	if err != nil {
		c.dirSince.Store(0)
	} else {
		c.dirSince.CompareAndSwap(0, time.Now().UnixNano())
		c.m.Heartbeat()
	}
	if err != nil && ctx.Err() == nil && c.link.Up() {
		c.log.Warn().Err(err).Msg("node heartbeat")
	}
	return err == nil
}

// Ready reports whether this node can take new streams: the control plane is reachable, the
// directory usable, and at least one media daemon alive.
func (c *Client) Ready() error {
	switch {
	case !c.link.Up():
		return errors.New("control plane unreachable")
	case !c.dirOK.Load():
		return errors.New("directory not usable")
	case c.assertErr() != nil:
		return errors.New("directory not re-asserted yet")
	case c.nodes.liveMediads(time.Now(), c.link.UpSince()) == 0:
		return errors.New("no live media daemon")
	}
	return nil
}

func (c *Client) nodeDown(id string) {
	c.log.Warn().Str("mediaNode", id).Msg("media node down")
	c.pullsNodeDown(id)
	if c.cfg.OnNodeDown != nil {
		c.cfg.OnNodeDown(id)
	}
}

// DownInfo is what the media sessions of a media daemon that is gone end with: "Media server
// shutdown" when it left at the end of a drain (its own shutdown events may come after the
// directory's news), "Media server lost" otherwise.
func (c *Client) DownInfo(node string) string {
	if c.nodes.leftDrained(node) {
		return wcs.InfoMediaNodeShutdown
	}
	return wcs.InfoMediaNodeLost
}

// PickMediaNode returns the live mediad with the fewest media sessions.
func (c *Client) PickMediaNode() (string, error) {
	if err := c.assertErr(); err != nil {
		return "", err
	}
	id, ok := c.nodes.pick(time.Now(), c.link.UpSince(), "")
	if !ok {
		return "", ErrNoMediaNode
	}
	return id, nil
}

// PickRelayNode returns the least loaded live media daemon other than origin, to serve a player
// of a stream published on origin from a relay (its origin has its limit of players, or this
// node prefers another daemon); ErrNoMediaNode when there is none.
func (c *Client) PickRelayNode(origin string) (string, error) {
	if err := c.assertErr(); err != nil {
		return "", err
	}
	id, ok := c.nodes.pick(time.Now(), c.link.UpSince(), origin)
	if !ok {
		return "", ErrNoMediaNode
	}
	return id, nil
}

// Routes asks every live media daemon for the relays it holds (the REST API's
// /cdn/show_routes), within ctx; a daemon that does not answer is left out.
func (c *Client) Routes(ctx context.Context) []control.Route {
	var out []control.Route
	for _, r := range askMediads[control.RoutesReply](ctx, c, control.OpRoutes) {
		out = append(out, r.Relays...)
	}
	return out
}

// MediaNodeAlive reports whether node is a media daemon that can take sessions now.
func (c *Client) MediaNodeAlive(node string) bool {
	return c.nodes.aliveAs(node, control.KindMediad, 0, time.Now(), c.link.UpSince())
}

// ClaimStream registers rec under its name if no one holds it (create-if-absent, docs/protocol.md
// §E.6) and returns a claim id, needed to release it. The claim is remembered, so that it can be
// put back if the server loses it (reassert).
func (c *Client) ClaimStream(ctx context.Context, rec control.StreamRecord) (uint64, error) {
	if err := c.assertErr(); err != nil {
		return 0, err
	}
	rec.SignalStarted = c.started
	rec.MediaStarted, _ = c.nodes.incarnation(rec.MediaNode)
	body, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("mediactl: encode stream record: %w", err)
	}
	rev, err := c.dir.Streams.Create(ctx, control.StreamKey(rec.Name), body)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = c.takeOver(ctx, rec.Name, body)
	}
	if err != nil {
		if errors.Is(err, ErrNameInUse) {
			return 0, err
		}
		if bus.Unanswered(err) { // the streams bucket is electing a leader: try again in a moment
			return 0, fmt.Errorf("mediactl: claim stream %q: %w: %w", rec.Name, ErrControlPlaneDown, err)
		}
		return 0, fmt.Errorf("mediactl: claim stream %q: %w", rec.Name, err)
	}
	return c.claims.add(rec.Name, body, rev), nil
}

// takeOver replaces a claim whose owner is dead: its mediad, or its signal node, no longer
// heartbeats (a crashed node cannot release its names). The swap is a compare-and-set on the
// revision read, so two nodes racing for the name cannot both win.
func (c *Client) takeOver(ctx context.Context, name string, body []byte) (uint64, error) {
	e, err := c.dir.Streams.Get(ctx, control.StreamKey(name))
	if err != nil {
		return 0, ErrNameInUse
	}
	var old control.StreamRecord
	if err := json.Unmarshal(e.Value(), &old); err == nil && !c.ownerDead(old) {
		return 0, ErrNameInUse
	}
	rev, err := c.dir.Streams.Update(ctx, control.StreamKey(name), body, e.Revision())
	if err != nil {
		return 0, ErrNameInUse
	}
	c.log.Warn().Str("streamName", name).Str("mediaNode", old.MediaNode).Str("signalNode", old.SignalNode).
		Msg("stream name taken over from a dead node")
	return rev, nil
}

func (c *Client) ownerDead(rec control.StreamRecord) bool {
	now := time.Now()
	upSince := c.link.UpSince()
	if c.nodes.isDown(rec.MediaNode) { // reported down: its names are free at once
		return true
	}
	// A claim younger than a heartbeat TTL may belong to a node this one has not seen yet.
	if now.Sub(time.UnixMilli(rec.Created)) < control.NodeTTL {
		return false
	}
	if !c.nodes.aliveAs(rec.MediaNode, control.KindMediad, rec.MediaStarted, now, upSince) {
		return true
	}
	if rec.SignalNode == c.cfg.NodeID { // ours: alive only if claimed in this life of the node
		return rec.SignalStarted != 0 && rec.SignalStarted != c.started
	}
	return !c.nodes.aliveAs(rec.SignalNode, control.KindSignal, rec.SignalStarted, now, upSince)
}

// SignalNodes lists the live signal nodes, this one included once its record is written.
func (c *Client) SignalNodes() []string {
	recs := c.nodes.liveRecords(control.KindSignal, time.Now())
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// SignalRecords are the records of the live signal nodes, least loaded first (the lbUrl lookup).
func (c *Client) SignalRecords() []control.NodeRecord {
	recs := c.nodes.liveRecords(control.KindSignal, time.Now())
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Load.Sessions < recs[j].Load.Sessions })
	return recs
}

// Started is this node's incarnation, carried in control.Owner.SignalStarted.
func (c *Client) Started() int64 { return c.started }

// ReleaseStream deletes our claim id; a newer claim by someone else (another revision) is left
// alone. While the control plane is down the release is kept and sent once it is back.
func (c *Client) ReleaseStream(ctx context.Context, name string, id uint64) error {
	rel, ok := c.claims.remove(id)
	if !ok {
		return nil
	}
	if !c.link.Up() {
		c.claims.deferRelease(rel)
		return nil
	}
	if err := rel.send(ctx, c.dir.Streams); err != nil {
		c.claims.deferRelease(rel)
		return fmt.Errorf("mediactl: release stream %q: %w", name, err)
	}
	return nil
}

// LookupStream returns the published stream record of name, or ErrNotPublished.
func (c *Client) LookupStream(ctx context.Context, name string) (control.StreamRecord, error) {
	var rec control.StreamRecord
	if err := c.assertErr(); err != nil {
		return rec, err
	}
	e, err := c.dir.Streams.Get(ctx, control.StreamKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return rec, ErrNotPublished
	}
	if err != nil {
		return rec, fmt.Errorf("mediactl: look up stream %q: %w", name, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, fmt.Errorf("mediactl: stream record %q: %w", name, err)
	}
	return rec, nil
}

// Publish asks node to accept a publisher's offer.
func (c *Client) Publish(ctx context.Context, node string, req control.PublishRequest) (control.PublishReply, error) {
	var rep control.PublishReply
	err := c.rpc(ctx, node, control.OpPublish, req, &rep)
	return rep, err
}

// Play asks node to add a subscriber.
func (c *Client) Play(ctx context.Context, node string, req control.PlayRequest) (control.PlayReply, error) {
	var rep control.PlayReply
	err := c.rpc(ctx, node, control.OpPlay, req, &rep)
	return rep, err
}

// Stop ends one media session at node. A reply error (e.g. unknown session) is returned as an
// error. A stop the control plane cannot deliver now (NATS down, the daemon not on it yet) is
// kept and sent again once it can (stops); while the link is down it is kept at once, without
// waiting for a reply that cannot come.
func (c *Client) Stop(ctx context.Context, node string, req control.StopRequest) error {
	if !c.link.Up() {
		c.stops.add(node, req)
		return fmt.Errorf("mediactl: stop %s at %s: %w: kept until it is back", req.MediaSessionID, node, ErrControlPlaneDown)
	}
	var rep control.StopReply
	if err := c.rpc(ctx, node, control.OpStop, req, &rep); err != nil {
		if errors.Is(err, ErrControlPlaneDown) {
			c.stops.add(node, req)
		}
		return err
	}
	if rep.Error != "" {
		return fmt.Errorf("mediactl: stop %s at %s: %s", req.MediaSessionID, node, rep.Error)
	}
	return nil
}

// StreamEvent asks the publisher's node to fan a stream event out to its subscribers.
func (c *Client) StreamEvent(ctx context.Context, node string, req control.StreamEventRequest) error {
	var rep control.StopReply
	if err := c.rpc(ctx, node, control.OpStreamEvent, req, &rep); err != nil {
		return err
	}
	if rep.Error != "" {
		return fmt.Errorf("mediactl: stream event at %s: %s", node, rep.Error)
	}
	return nil
}

func (c *Client) rpc(ctx context.Context, node, op string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, control.RequestTimeout)
	defer cancel()
	start := time.Now()
	err := bus.Request(ctx, c.nc, control.MediaSubject(node, op), in, out)
	c.m.RPC(op, time.Since(start), err)
	if err != nil {
		// No responders: the daemon is not on the control plane now (not reconnected yet after
		// a NATS restart, or dead and not yet judged so); a link that went down meanwhile is the
		// same fault seen from here.
		if errors.Is(err, nats.ErrNoResponders) || !c.link.Up() {
			return fmt.Errorf("mediactl: %s at %s: %w: %w", op, node, ErrControlPlaneDown, err)
		}
		return fmt.Errorf("mediactl: %s at %s: %w", op, node, err)
	}
	return nil
}

// Owned asks node for the media sessions this signal node owns there.
func (c *Client) Owned(ctx context.Context, node string) ([]control.Owner, error) {
	var rep control.OwnedReply
	if err := c.rpc(ctx, node, control.OpOwned, control.OwnedRequest{SignalNode: c.cfg.NodeID}, &rep); err != nil {
		return nil, err
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("mediactl: owned at %s: %s", node, rep.Error)
	}
	return rep.Owners, nil
}
