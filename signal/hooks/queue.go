package hooks

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
)

// QueueSize is how many events a session's Queue holds before it drops: a backend that stalls
// for a whole hook timeout must not cost the session its memory or its reader.
const QueueSize = 256

// Queue delivers one session's hook events in the order they were posted, one at a time, on a
// goroutine it owns, so that the session never waits for a backend (docs/protocol.md §F: events
// do not gate the flow, and WCS keeps their order per session).
type Queue struct {
	c   *Client
	app rest.App
	cfg func() *Config
	log zerolog.Logger

	mu     sync.Mutex // guards closed and sends on ch
	closed bool
	ch     chan queued

	ctx    context.Context // ends the delivery when Close runs out of time
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	drops  atomic.Int64
}

type queued struct {
	method string
	body   map[string]any
	then   func(Result)
}

// NewQueue starts the Queue of a session of app. cfg returns the session's current Config at each
// delivery (so a restClientConfig learnt from the connect answer applies to every later event);
// it runs on the queue's goroutine and must be safe to call concurrently with the session. nil
// cfg = WCS's defaults.
func NewQueue(c *Client, app rest.App, cfg func() *Config, log zerolog.Logger) *Queue {
	if cfg == nil {
		cfg = func() *Config { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{c: c, app: app, cfg: cfg, log: log.With().Str("component", "hooks").Logger(), ch: make(chan queued, QueueSize),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go q.run()
	return q
}

// Post queues method's event with body (see Client.Invoke) and returns at once; false means it
// was dropped because the queue is full or closed (counted in potok_signal_hook_events_dropped_total).
// body is copied, but the values in it are shared: do not change them after Post.
//
// then, if not nil, gets the Result on the queue's goroutine once the event was delivered (also
// when the Client skipped it), e.g. to tell the client of a FAIL or end a stream whose keep-alive
// was refused (Decide). It must not block: the next event waits for it, and so does Close. It is
// not called for an event dropped or abandoned by Close.
func (q *Queue) Post(method string, body map[string]any, then func(Result)) bool {
	method = Normalize(method)
	if then == nil && (q.c.opts.Disabled || q.app.URL == "" || !Enabled(q.app.Methods, method)) {
		q.c.m.requests.WithLabelValues(label(method), OutcomeSkipped).Inc() // nothing to send or report
		return true
	}
	ev := queued{method: method, body: maps.Clone(body), then: then}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		select {
		case q.ch <- ev:
			return true
		default:
		}
	}
	q.drop(method, body, "queue full or closed")
	return false
}

// Close stops accepting events and delivers those queued, waiting at most until ctx ends; then it
// abandons the rest (the request in flight is cancelled) and returns an error. When Close
// returns, the queue's goroutine has exited. Close may be called more than once.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
	}
	q.cancel()
	<-q.done
	return fmt.Errorf("hooks: queue closed before it drained: %w", context.Cause(ctx))
}

// run delivers the events until the channel is closed and empty.
func (q *Queue) run() {
	defer close(q.done)
	defer q.cancel()
	for ev := range q.ch {
		if q.ctx.Err() != nil {
			q.drop(ev.method, ev.body, "abandoned by close")
			continue
		}
		res := q.c.Invoke(q.ctx, q.app, ev.method, ev.body, q.cfg())
		if q.ctx.Err() != nil {
			q.drop(ev.method, ev.body, "abandoned by close")
			continue
		}
		if ev.then != nil {
			ev.then(res)
		}
	}
}

// drop counts an event that will not be delivered and logs the first drop and every 100th, so
// that a stalled backend does not flood the log.
func (q *Queue) drop(method string, body map[string]any, why string) {
	q.c.m.dropped.WithLabelValues(label(method)).Inc()
	if n := q.drops.Add(1); n == 1 || n%100 == 0 {
		sid, _ := body["sessionId"].(string)
		q.log.Warn().Str("method", method).Str("appKey", q.app.Key).Str("sessionId", sid).
			Str("reason", why).Int64("dropped", n).Msg("hook event dropped")
	}
}
