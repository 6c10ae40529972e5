package mediactl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/potok-media/potok/api/control"
)

// ErrNotPulled: no pull publishes the stream named (it is not published, or by a client).
var ErrNotPulled = errors.New("mediactl: no pull of this stream")

// pulls are the streams this signal node asked media daemons to pull from other servers
// (control.OpPull): the node owns each one's name claim, as it owns its clients' publishes, and
// releases it when the pull ends — its daemon says so, the daemon is down, or it was stopped from
// here. Releases run on goroutines of their own (they talk to the directory, and the events that
// trigger them arrive on the NATS delivery goroutine), which Close waits for.
type pulls struct {
	mu     sync.Mutex
	byID   map[string]heldPull // by the pull's id, its owner's MediaSessionID
	closed bool
	wg     sync.WaitGroup
}

// heldPull is one pull's claim: the name, the daemon holding the pull, the claim id, and what
// /stream/find shows of it.
type heldPull struct {
	name, node string
	claim      uint64
	uri        string
	created    int64 // Unix ms
	playing    bool  // the daemon said it plays
}

// HeldPull is a pull this node owns, as the REST API's /stream/find lists it.
type HeldPull struct {
	ID, Name, MediaNode, URI string
	Created                  int64 // Unix ms
}

// HeldPulls lists the pulls this node owns that play.
func (c *Client) HeldPulls() []HeldPull {
	c.pulls.mu.Lock()
	defer c.pulls.mu.Unlock()
	out := make([]HeldPull, 0, len(c.pulls.byID))
	for id, h := range c.pulls.byID {
		if h.playing {
			out = append(out, HeldPull{ID: id, Name: h.name, MediaNode: h.node, URI: h.uri, Created: h.created})
		}
	}
	return out
}

func (p *pulls) add(id string, h heldPull) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byID == nil {
		p.byID = map[string]heldPull{}
	}
	p.byID[id] = h
}

// playing marks the pull id as set up.
func (p *pulls) playing(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.byID[id]; ok {
		h.playing = true
		p.byID[id] = h
	}
}

// take forgets the pulls match selects and returns them.
func (p *pulls) take(match func(id string, h heldPull) bool) []heldPull {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []heldPull
	for id, h := range p.byID {
		if match(id, h) {
			out = append(out, h)
			delete(p.byID, id)
		}
	}
	return out
}

// goRelease runs f on a goroutine Close waits for, unless Close has begun.
func (p *pulls) goRelease(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

func (p *pulls) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// Pull claims localName for a pull of remoteName from the WCS-protocol server at uri, on the
// least loaded media daemon, and waits until it plays. The name in use is ErrNameInUse; a pull
// that could not start releases the name.
func (c *Client) Pull(ctx context.Context, uri, remoteName, localName string) error {
	node, err := c.PickMediaNode()
	if err != nil {
		return err
	}
	id := uuid.NewString()
	owner := control.Owner{SignalNode: c.cfg.NodeID, SignalStarted: c.started, SessionID: control.PullSession,
		MediaSessionID: id}
	created := time.Now().UnixMilli()
	claim, err := c.ClaimStream(ctx, control.StreamRecord{Name: localName, MediaNode: node, MediaSessionID: id,
		SignalNode: c.cfg.NodeID, SessionID: control.PullSession, Created: created})
	if err != nil {
		return err
	}
	c.pulls.add(id, heldPull{name: localName, node: node, claim: claim, uri: uri, created: created})
	var rep control.PullReply
	req := control.PullRequest{Owner: owner, URI: uri, RemoteStreamName: remoteName, LocalStreamName: localName}
	err = c.rpc(ctx, node, control.OpPull, req, &rep)
	if err == nil && rep.Error != "" {
		err = fmt.Errorf("mediactl: pull %q from %s on %s: %s", remoteName, uri, node, rep.Error)
	}
	if err != nil {
		if rep.Error == "" { // no answer: the daemon may still be setting it up
			c.stopPull(node, owner)
		}
		c.releasePulls(func(pid string, _ heldPull) bool { return pid == id })
		return err
	}
	c.pulls.playing(id)
	c.log.Info().Str("streamName", localName).Str("uri", uri).Str("mediaNode", node).Msg("pull playing")
	return nil
}

// stopPull asks node to end the pull of owner, best effort: it is also ended when its owner
// node's record goes.
func (c *Client) stopPull(node string, owner control.Owner) {
	ctx, cancel := context.WithTimeout(context.Background(), control.RequestTimeout)
	defer cancel()
	if err := c.rpc(ctx, node, control.OpPullStop, control.PullStopRequest{Owner: owner}, &control.StopReply{}); err != nil {
		c.log.Debug().Err(err).Str("mediaNode", node).Msg("stop an unanswered pull")
	}
}

// Pulls asks every live media daemon for the pulls it holds, within ctx.
func (c *Client) Pulls(ctx context.Context) []control.Pull {
	var out []control.Pull
	for _, r := range askMediads[control.PullsReply](ctx, c, control.OpPulls) {
		out = append(out, r.Pulls...)
	}
	return out
}

// TerminatePull stops the pull publishing localName and frees the name; ErrNotPulled when no
// pull publishes it. A pull owned by another signal node has its name released by that node,
// once the daemon has told it.
func (c *Client) TerminatePull(ctx context.Context, localName string) error {
	rec, err := c.LookupStream(ctx, localName)
	if errors.Is(err, ErrNotPublished) || err == nil && rec.SessionID != control.PullSession {
		return fmt.Errorf("stream %q: %w", localName, ErrNotPulled)
	}
	if err != nil {
		return err
	}
	owner := control.Owner{SignalNode: rec.SignalNode, SignalStarted: rec.SignalStarted, SessionID: control.PullSession,
		MediaSessionID: rec.MediaSessionID}
	var rep control.StopReply
	if err := c.rpc(ctx, rec.MediaNode, control.OpPullStop, control.PullStopRequest{Owner: owner}, &rep); err != nil {
		return err
	}
	if rep.Error != "" {
		return fmt.Errorf("mediactl: stop the pull of %q on %s: %s", localName, rec.MediaNode, rep.Error)
	}
	if rec.SignalNode == c.cfg.NodeID { // ours: the name is free when this returns
		c.releasePulls(func(id string, _ heldPull) bool { return id == rec.MediaSessionID })
	}
	return nil
}

// releasePulls forgets the pulls match selects and releases their names.
func (c *Client) releasePulls(match func(id string, h heldPull) bool) {
	for _, h := range c.pulls.take(match) {
		ctx, cancel := context.WithTimeout(context.Background(), control.RequestTimeout)
		if err := c.ReleaseStream(ctx, h.name, h.claim); err != nil {
			c.log.Warn().Err(err).Str("streamName", h.name).Msg("release a pulled stream's name")
		}
		cancel()
		c.log.Info().Str("streamName", h.name).Str("mediaNode", h.node).Msg("pull ended: name released")
	}
}

// onPullEvent releases the name of a pull whose daemon says it ended.
func (c *Client) onPullEvent(ev control.MediaEvent) {
	if ev.Kind != control.EventState || ev.State != control.StateClosed && ev.State != control.StateFailed {
		return
	}
	id := ev.MediaSessionID
	c.pulls.goRelease(func() { c.releasePulls(func(pid string, _ heldPull) bool { return pid == id }) })
}

// pullsNodeDown releases the names of the pulls a media daemon that went down held.
func (c *Client) pullsNodeDown(node string) {
	c.pulls.goRelease(func() { c.releasePulls(func(_ string, h heldPull) bool { return h.node == node }) })
}

// askMediads puts op to every live media daemon at once and returns the replies that came
// within ctx; a daemon that does not answer is left out.
func askMediads[T any](ctx context.Context, c *Client, op string) []T {
	return askMediadsWith[T](ctx, c, op, struct{}{}, "")
}

// askMediadsWith is askMediads with a request body, and only the daemon named only when that is
// not "".
func askMediadsWith[T any](ctx context.Context, c *Client, op string, body any, only string) []T {
	if c.assertErr() != nil {
		return nil
	}
	recs := c.nodes.liveRecords(control.KindMediad, time.Now())
	if only != "" {
		recs = slices.DeleteFunc(recs, func(r control.NodeRecord) bool { return r.ID != only })
	}
	replies := make([]T, len(recs))
	ok := make([]bool, len(recs))
	var wg sync.WaitGroup
	for i, rec := range recs {
		wg.Go(func() {
			if err := c.rpc(ctx, rec.ID, op, body, &replies[i]); err != nil {
				c.log.Debug().Err(err).Str("mediaNode", rec.ID).Str("op", op).Msg("ask media daemons")
				return
			}
			ok[i] = true
		})
	}
	wg.Wait()
	var out []T
	for i, r := range replies {
		if ok[i] {
			out = append(out, r)
		}
	}
	return out
}
