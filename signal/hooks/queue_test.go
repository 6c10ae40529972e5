package hooks

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/testkit/testwait"
)

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func TestQueueDeliversInOrderAndDrainsOnClose(t *testing.T) {
	base := runtime.NumGoroutine()
	b := startBackend(t, nil)
	c, _ := newClient(t, Options{Timeout: 5 * time.Second})
	q := NewQueue(c, b.app(), nil, testLog(t))
	const n = 100
	for i := range n {
		if !q.Post(StreamStatusEvent, map[string]any{"sessionId": "sess-1", "seq": i}, nil) {
			t.Fatalf("event %d dropped", i)
		}
	}
	if err := q.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	reqs := b.requests()
	if len(reqs) != n {
		t.Fatalf("backend got %d events, want %d: Close did not drain", len(reqs), n)
	}
	for i, r := range reqs {
		if seq := r.fields(t)["seq"]; seq != float64(i) {
			t.Fatalf("event %d has seq %v: out of order", i, seq)
		}
	}
	if q.Post(StreamStatusEvent, map[string]any{}, nil) {
		t.Error("Post after Close was accepted")
	}
	if err := q.Close(ctxTimeout(t, time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b.Close()
	c.CloseIdleConnections()
	testwait.Goroutines(t, base, 0, 5*time.Second)
}

// TestQueueNeverBlocksOnAHungBackend posts far more events than the queue holds to a backend that
// answers nothing: Post returns at once, the overflow is dropped and counted, and Close gives up
// at its deadline, cancels the request in flight and leaves no goroutine behind.
func TestQueueNeverBlocksOnAHungBackend(t *testing.T) {
	base := runtime.NumGoroutine()
	var got atomic.Int32
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		got.Add(1)
		<-r.Context().Done()
	})
	c, reg := newClient(t, Options{}) // no timeout: only Close ends the request
	q := NewQueue(c, b.app(), nil, testLog(t))
	var called atomic.Int32
	start := time.Now()
	accepted := 0
	const posted = 1000
	for i := range posted {
		if q.Post(StreamStatusEvent, map[string]any{"seq": i}, func(Result) { called.Add(1) }) {
			accepted++
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%d posts took %s", posted, took)
	}
	if accepted > QueueSize+1 || accepted < QueueSize {
		t.Errorf("%d events accepted, want the queue's %d (+1 in flight)", accepted, QueueSize)
	}
	dropped := counter(t, reg, NameEventsDropped, map[string]string{"method": StreamStatusEvent})
	if dropped != float64(posted-accepted) {
		t.Errorf("dropped counter %v, want %d", dropped, posted-accepted)
	}
	testwait.Until(t, 5*time.Second, "the first event at the backend", func() bool { return got.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil {
		t.Error("Close of a queue that could not drain returned nil")
	}
	if n := called.Load(); n != 0 {
		t.Errorf("%d callbacks of abandoned events", n)
	}
	if got.Load() != 1 {
		t.Errorf("backend got %d events after Close, want 1", got.Load())
	}
	b.Close()
	c.CloseIdleConnections()
	testwait.Goroutines(t, base, 0, 5*time.Second)
}

// TestQueueReportsResultsAndReadsTheCurrentConfig: a keep-alive refused under FAIL reaches the
// callback so the session can end the stream, and a Config learnt after the queue started
// applies to later events.
func TestQueueReportsResultsAndReadsTheCurrentConfig(t *testing.T) {
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path == "/apps/Test/"+StreamKeepAliveEvent {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write(body)
	})
	c, _ := newClient(t, Options{Timeout: 5 * time.Second})
	var cur atomic.Pointer[Config]
	q := NewQueue(c, b.app(), cur.Load, testLog(t))
	defer func() { _ = q.Close(ctxTimeout(t, 5*time.Second)) }()
	results := make(chan Result, 4)
	report := func(r Result) { results <- r }

	q.Post(StreamStatusEvent, streamBody(), report)
	<-results
	cfg, _ := ParseConfig(nil, []byte(`{"StreamStatusEvent":{"restExclude":"sdp"},"StreamKeepAliveEvent":{"restOnError":"FAIL"}}`))
	cur.Store(cfg)
	q.Post(StreamStatusEvent, streamBody(), report)
	<-results
	q.Post(StreamKeepAliveEvent, streamBody(), report)
	res := <-results
	if proceed, tell := Decide(StreamKeepAliveEvent, res, cur.Load()); proceed || !tell || res.Status != http.StatusForbidden {
		t.Errorf("keep-alive 403 under FAIL: %+v, Decide %v %v; want the stream terminated", res, proceed, tell)
	}
	reqs := b.requests()
	if _, ok := reqs[0].fields(t)["sdp"]; !ok {
		t.Error("the first event lost sdp before any restExclude")
	}
	if _, ok := reqs[1].fields(t)["sdp"]; ok {
		t.Error("the second event carries sdp: the new Config was not used")
	}
}

func TestQueueOfAnAppWithoutHooksQueuesNothing(t *testing.T) {
	c, reg := newClient(t, Options{})
	q := NewQueue(c, rest.App{Key: rest.DefaultApp}, nil, testLog(t))
	for range 2 * QueueSize {
		if !q.Post(StreamStatusEvent, map[string]any{}, nil) {
			t.Fatal("an event of an app without hooks was dropped")
		}
	}
	if err := q.Close(ctxTimeout(t, time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := requestsTotal(t, reg, StreamStatusEvent, OutcomeSkipped); n != 2*QueueSize {
		t.Errorf("skipped %v, want %d", n, 2*QueueSize)
	}
}
