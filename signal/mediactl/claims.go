package mediactl

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
)

// claims remembers this node's stream-name claims, so that a server that lost them (restarted
// with in-memory buckets) gets them back, and a release that could not be sent while the control
// plane was down is sent once it is back. Sessions hold a claim id; the KV revision behind it
// changes when a claim is put back.
type claims struct {
	mu      sync.Mutex
	next    uint64
	byID    map[uint64]*claim
	pending []release // releases not sent yet
}

type claim struct {
	name string
	body []byte
	rev  uint64 // 0 once another node holds the name: nothing of ours to release
}

// release deletes one claim, unless the name has been claimed again since (another revision).
type release struct {
	name string
	rev  uint64
}

func newClaims() *claims { return &claims{byID: map[uint64]*claim{}} }

func (c *claims) add(name string, body []byte, rev uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	c.byID[c.next] = &claim{name: name, body: body, rev: rev}
	return c.next
}

// remove forgets claim id and returns the release to send.
func (c *claims) remove(id uint64) (release, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl := c.byID[id]
	if cl == nil {
		return release{}, false
	}
	delete(c.byID, id)
	return release{name: cl.name, rev: cl.rev}, cl.rev != 0
}

func (c *claims) hasPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0
}

func (c *claims) deferRelease(r release) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, r)
}

func (r release) send(ctx context.Context, kv jetstream.KeyValue) error {
	err := kv.Delete(ctx, control.StreamKey(r.name), jetstream.LastRevision(r.rev))
	var apiErr *jetstream.APIError
	switch {
	case err == nil, errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists),
		errors.Is(err, jetstream.ErrKeyNotFound):
		return nil // released, or the name is someone else's (or nobody's) now
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return nil
	}
	return err
}

// flushReleases sends the releases kept while the control plane was down.
func (c *claims) flushReleases(ctx context.Context, kv jetstream.KeyValue, log zerolog.Logger) {
	c.mu.Lock()
	todo := c.pending
	c.pending = nil
	c.mu.Unlock()
	for i, r := range todo {
		if err := r.send(ctx, kv); err != nil {
			log.Warn().Err(err).Str("streamName", r.name).Msg("release stream name")
			c.mu.Lock()
			c.pending = append(c.pending, todo[i:]...)
			c.mu.Unlock()
			return
		}
	}
}

// reassert puts every remembered claim back where the bucket lost it and learns the current
// revision of those it kept. kept counts claims that are ours now; lost those another node took
// meanwhile (the name is theirs; our publisher goes on, but its release will not touch theirs);
// failed those that could not be checked or put back (to be tried again).
func (c *claims) reassert(ctx context.Context, kv jetstream.KeyValue, log zerolog.Logger) (kept, lost, failed int) {
	c.mu.Lock()
	snapshot := make(map[uint64]claim, len(c.byID))
	for id, cl := range c.byID {
		snapshot[id] = *cl
	}
	c.mu.Unlock()
	for id, cl := range snapshot {
		rev, err := putBack(ctx, kv, cl)
		switch {
		case errors.Is(err, ErrNameInUse):
			lost++
			log.Error().Str("streamName", cl.name).Msg("stream name claimed by another node while the control plane was down")
		case err != nil:
			log.Warn().Err(err).Str("streamName", cl.name).Msg("re-assert stream claim")
			failed++
			continue
		default:
			kept++
		}
		c.mu.Lock()
		cur := c.byID[id]
		if cur != nil {
			cur.rev = rev
		}
		c.mu.Unlock()
		if cur == nil && rev != 0 { // released while we were putting it back
			_ = release{name: cl.name, rev: rev}.send(ctx, kv)
		}
	}
	return kept, lost, failed
}

// putBack returns the revision of our claim after making sure the bucket holds it.
func putBack(ctx context.Context, kv jetstream.KeyValue, cl claim) (uint64, error) {
	key := control.StreamKey(cl.name)
	e, err := kv.Get(ctx, key)
	switch {
	case err == nil && bytes.Equal(e.Value(), cl.body):
		return e.Revision(), nil
	case err == nil:
		return 0, ErrNameInUse
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, err
	}
	rev, err := kv.Create(ctx, key, cl.body)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrNameInUse
	}
	return rev, err
}
