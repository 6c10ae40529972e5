// Package mediactl is the signal node's side of the control plane (api/control): the in-memory view
// of live media daemons kept by a KV watcher, stream-name claims in the streams bucket, the RPCs to
// mediad, the subscription to the media events addressed to this node, and this node's heartbeat.
package mediactl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	ErrNameInUse    = errors.New("mediactl: stream name is already in use")
	ErrNoMediaNode  = errors.New("mediactl: no live media node")
	ErrNotPublished = errors.New("mediactl: stream not found")
)

// Config of a Client.
type Config struct {
	NodeID string
	// Sessions reports this node's WS session count for its heartbeat (nil = 0).
	Sessions func() int
	// OnEvent receives every MediaEvent addressed to this node, on the NATS delivery goroutine: it
	// must not block.
	OnEvent func(control.MediaEvent)
	// OnNodeDown is told when a media daemon leaves or its heartbeat expires; it must not block.
	OnNodeDown func(nodeID string)
}

// Client is one signal node's connection to the media tier.
type Client struct {
	cfg   Config
	nc    *nats.Conn
	dir   *bus.Directory
	log   zerolog.Logger
	m     *metrics.Signal
	nodes *nodeView
	sub   *nats.Subscription

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started int64 // epoch ms
}

// New opens the directory, starts the node watcher and the heartbeat, and subscribes to events.
func New(ctx context.Context, cfg Config, nc *nats.Conn, m *metrics.Signal, log zerolog.Logger) (*Client, error) {
	dir, err := bus.OpenDirectory(ctx, nc)
	if err != nil {
		return nil, fmt.Errorf("mediactl: %w", err)
	}
	c := &Client{cfg: cfg, nc: nc, dir: dir, log: log, m: m, nodes: newNodeView()}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	w, err := dir.Nodes.WatchAll(runCtx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mediactl: watch nodes: %w", err)
	}
	c.sub, err = nc.Subscribe(control.SignalEventsSubject(cfg.NodeID), c.onEventMsg)
	if err != nil {
		_ = w.Stop()
		cancel()
		return nil, fmt.Errorf("mediactl: subscribe events: %w", err)
	}
	// The first heartbeat is written before serving, so other nodes know this one as soon as it
	// can own anything.
	c.started = time.Now().UnixMilli()
	c.beat(ctx)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.nodes.watch(runCtx, w, log, c.nodeDown) }()
	go func() { defer c.wg.Done(); c.heartbeat(runCtx) }()
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.dir.Nodes.Delete(ctx, control.NodeKey(c.cfg.NodeID)); err != nil {
		c.log.Debug().Err(err).Msg("remove node record")
	}
}

func (c *Client) onEventMsg(msg *nats.Msg) {
	var ev control.MediaEvent
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		c.log.Warn().Err(err).Msg("malformed media event")
		return
	}
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}

// heartbeat keeps this signal node's record alive in the nodes bucket and notices media daemons
// whose heartbeat expired (design.md "Failure").
func (c *Client) heartbeat(ctx context.Context) {
	t := time.NewTicker(control.NodeHeartbeat)
	defer t.Stop()
	for beats := 1; ; beats++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.beat(ctx)
			for _, id := range c.nodes.sweep(now) {
				c.nodeDown(id)
			}
			if beats%tombstoneSweepBeats == 0 {
				c.sweepTombstones(ctx)
			}
		}
	}
}

// Released stream names leave delete markers in the directory; every signal node sweeps the old
// ones about once a minute (several nodes sweeping is harmless).
const (
	tombstoneSweepBeats = 30
	tombstoneAge        = 5 * time.Minute
)

func (c *Client) sweepTombstones(ctx context.Context) {
	n, err := c.dir.PurgeStreamTombstones(ctx, tombstoneAge)
	switch {
	case err != nil && ctx.Err() == nil:
		c.log.Warn().Err(err).Msg("sweep released stream names")
	case n > 0:
		c.log.Debug().Int("purged", n).Msg("swept released stream names")
	}
}

// beat writes this node's record once.
func (c *Client) beat(ctx context.Context) {
	rec := control.NodeRecord{ID: c.cfg.NodeID, Kind: control.KindSignal, Started: c.started, Version: wcs.Version}
	if c.cfg.Sessions != nil {
		rec.MediaSessions = c.cfg.Sessions()
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return
	}
	if _, err := c.dir.Nodes.Put(ctx, control.NodeKey(c.cfg.NodeID), body); err != nil && ctx.Err() == nil {
		c.log.Warn().Err(err).Msg("node heartbeat")
	}
}

func (c *Client) nodeDown(id string) {
	c.log.Warn().Str("mediaNode", id).Msg("media node down")
	if c.cfg.OnNodeDown != nil {
		c.cfg.OnNodeDown(id)
	}
}

// PickMediaNode returns the live mediad with the fewest media sessions.
func (c *Client) PickMediaNode() (string, error) {
	id, ok := c.nodes.pick(time.Now())
	if !ok {
		return "", ErrNoMediaNode
	}
	return id, nil
}

// ClaimStream registers rec under its name if no one holds it (create-if-absent, docs/protocol.md §E.6)
// and returns the revision of the claim, needed to release it.
func (c *Client) ClaimStream(ctx context.Context, rec control.StreamRecord) (uint64, error) {
	rec.SignalStarted = c.started
	rec.MediaStarted, _ = c.nodes.incarnation(rec.MediaNode)
	body, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("mediactl: encode stream record: %w", err)
	}
	rev, err := c.dir.Streams.Create(ctx, control.StreamKey(rec.Name), body)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return c.takeOver(ctx, rec.Name, body)
	}
	if err != nil {
		return 0, fmt.Errorf("mediactl: claim stream %q: %w", rec.Name, err)
	}
	return rev, nil
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
	// A claim younger than a heartbeat TTL may belong to a node this one has not seen yet.
	if now.Sub(time.UnixMilli(rec.Created)) < control.NodeTTL {
		return false
	}
	if !c.nodes.aliveAs(rec.MediaNode, control.KindMediad, rec.MediaStarted, now) {
		return true
	}
	if rec.SignalNode == c.cfg.NodeID { // ours: alive only if claimed in this life of the node
		return rec.SignalStarted != 0 && rec.SignalStarted != c.started
	}
	return !c.nodes.aliveAs(rec.SignalNode, control.KindSignal, rec.SignalStarted, now)
}

// Started is this node's incarnation, carried in control.Owner.SignalStarted.
func (c *Client) Started() int64 { return c.started }

// ReleaseStream deletes our claim; a newer claim by someone else (another revision) is left alone.
func (c *Client) ReleaseStream(ctx context.Context, name string, rev uint64) error {
	err := c.dir.Streams.Delete(ctx, control.StreamKey(name), jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mediactl: release stream %q: %w", name, err)
	}
	return nil
}

// LookupStream returns the published stream record of name, or ErrNotPublished.
func (c *Client) LookupStream(ctx context.Context, name string) (control.StreamRecord, error) {
	var rec control.StreamRecord
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

// Stop ends one media session at node. A reply error (e.g. unknown session) is returned as an error.
func (c *Client) Stop(ctx context.Context, node string, req control.StopRequest) error {
	var rep control.StopReply
	if err := c.rpc(ctx, node, control.OpStop, req, &rep); err != nil {
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
	c.m.MediadRPC.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.Error(metrics.ReasonRPCFailed)
		return fmt.Errorf("mediactl: %s at %s: %w", op, node, err)
	}
	return nil
}
