package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/testkit/backend"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// The REST hooks against a real HTTP backend (testkit/backend) and a real cluster, driven by the
// Go client: what the backend is sent, in which order, and what each of its answers does to the
// client (docs/protocol.md §F).

// streamingMethods are the hooks a streaming application enables.
var streamingMethods = []string{hooks.Connect, hooks.ConnectionStatusEvent, hooks.PublishStream,
	hooks.UnPublishStream, hooks.PlayStream, hooks.StopStream, hooks.StreamStatusEvent, hooks.OnDataEvent,
	hooks.DataStatusEvent, hooks.StreamKeepAliveEvent, hooks.ErrorEvent}

// hookCluster is a cluster whose app "hooks" posts every streaming method to b.
func hookCluster(t *testing.T, b *backend.Backend, o cluster.Options) *cluster.Cluster {
	t.Helper()
	o.Apps = append(o.Apps, b.App("hooks", streamingMethods...))
	if o.Hooks.Timeout == 0 {
		o.Hooks.Timeout = 2 * time.Second
	}
	return cluster.Start(t, o)
}

func connectApp(t *testing.T, c *cluster.Cluster, appKey string, custom string) (*wasmclient.Session, error) {
	t.Helper()
	o := wasmclient.SessionOptions{AppKey: appKey}
	if custom != "" {
		o.Custom = json.RawMessage(custom)
	}
	s, err := wasmclient.Connect(ctx(t), c.WSURL, o)
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

// TestHooksOfASession: a connect → publish → play → data → stop → disconnect session posts its
// hooks in that order, each with the context fields (§F.3, §F.4), and the events' order is the
// order of what the client was told.
func TestHooksOfASession(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	c := hookCluster(t, b, cluster.Options{})
	s, err := connectApp(t, c, "hooks", `{"token":"abc"}`)
	if err != nil {
		t.Fatal(err)
	}
	sid := s.AuthToken()
	name := streamName("hooked")
	pub := publishSynthetic(t, s, name, wcs.StatusPublishing)
	player := play(t, s, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	st, err := s.SendData(ctx(t), map[string]any{"hello": "backend"})
	if err != nil || st.Status != wcs.DataAccepted {
		t.Fatalf("sendData: %+v %v", st, err)
	}
	stop(t, player, wcs.StatusStopped)
	stop(t, pub, wcs.StatusUnpublished)
	_ = s.Close()
	b.WaitFor(t, 10*time.Second, "ConnectionStatusEvent DISCONNECTED", func(h backend.Hook) bool {
		return h.Method == hooks.ConnectionStatusEvent && h.Field("status") == wcs.SessionDisconnected
	})

	got := backend.Methods(b.Of(sid))
	want := []string{"connect", "ConnectionStatusEvent:ESTABLISHED", "publishStream", "StreamStatusEvent:PUBLISHING",
		"playStream", "StreamStatusEvent:PLAYING", "OnDataEvent", "DataStatusEvent:ACCEPTED", "stopStream",
		"StreamStatusEvent:STOPPED", "unPublishStream", "StreamStatusEvent:UNPUBLISHED", "ConnectionStatusEvent:DISCONNECTED"}
	if !slices.Equal(got, want) {
		t.Errorf("hooks of the session:\n got %q\nwant %q", got, want)
	}
	for _, h := range b.Of(sid) {
		if h.Field("nodeId") != c.Signals[0].NodeID() || h.Field("appKey") != "hooks" {
			t.Errorf("%s: nodeId %q appKey %q", h.Method, h.Field("nodeId"), h.Field("appKey"))
		}
		if ct := h.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("%s: Content-Type %q", h.Method, ct)
		}
	}
	hooked := b.Of(sid)
	connect, publish, data := hooked[0], hooked[2], hooked[6]
	if custom, _ := connect.Body["custom"].(map[string]any); custom["token"] != "abc" || connect.Field("clientVersion") != "2.0" {
		t.Errorf("connect body %s", connect.Raw)
	}
	if publish.Field("name") != name || publish.Field("mediaSessionId") != pub.MediaSessionID() ||
		!strings.HasPrefix(publish.Field("sdp"), "v=0") || publish.Body["published"] != true {
		t.Errorf("publishStream body %s", publish.Raw)
	}
	if payload, _ := data.Body["payload"].(map[string]any); payload["hello"] != "backend" || data.Field("operationId") == "" {
		t.Errorf("OnDataEvent body %s", data.Raw)
	}
}

// TestHooksRefuseConnections: the connect hook decides alone whether a session exists (§F.5,
// §E.1b): a 403 with a reason, a backend that is down, one past the timeout and one answering
// garbage all refuse the session with the documented info, and the socket is closed. An unknown
// appKey is refused without asking anyone (§F.2).
func TestHooksRefuseConnections(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	down := backend.Start(t)
	downApp := rest.App{Key: "down", URL: closedURL(t), Methods: []string{hooks.Connect}}
	slow := backend.Start(t)
	slow.Answer(hooks.Connect, backend.Answer{Delay: 5 * time.Second})
	garbage := backend.Start(t)
	garbage.Answer(hooks.Connect, backend.Answer{Status: 500, Body: "<html>oops"})
	c := hookCluster(t, b, cluster.Options{Hooks: hooks.Options{Timeout: 300 * time.Millisecond, Retries: 1},
		Apps: []rest.App{downApp, slow.App("slow", hooks.Connect), garbage.App("garbage", hooks.Connect)}})
	_ = down
	b.Answer(hooks.Connect, backend.Answer{Status: 403, Body: `{"status":403,"reason":"Wrong credentials"}`})

	for _, tc := range []struct{ app, info string }{
		{"hooks", "Wrong credentials"},
		{"down", hooks.InfoUnavailable},
		{"slow", hooks.InfoTimeout},
		{"garbage", "Internal Server Error"},
		{"no-such-app", session.InfoAppNotFound},
	} {
		_, err := connectApp(t, c, tc.app, "")
		if !errors.Is(err, wasmclient.ErrRejected) || !strings.HasSuffix(err.Error(), ": "+tc.info) {
			t.Errorf("app %s: connect = %v, want rejected with %q", tc.app, err, tc.info)
		}
	}
	// Every refusal is also told to the backend (§E.1b), after the connect.
	b.WaitFor(t, 5*time.Second, "ConnectionStatusEvent FAILED", func(h backend.Hook) bool {
		return h.Method == hooks.ConnectionStatusEvent && h.Field("status") == wcs.SessionFailed &&
			h.Field("info") == "Wrong credentials"
	})
	if c.Signals[0].Sessions() != 0 {
		eventuallyNoSessions(t, c)
	}
}

func eventuallyNoSessions(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	testwait.Until(t, 5*time.Second, "refused sessions gone", func() bool { return c.Signals[0].Sessions() == 0 })
}

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr + "/apps/down"
}

// TestHooksSlowBackendBlocksNoOtherSession: while one application's backend takes its time over a
// connect, sessions of other applications connect, publish and play as usual (§F.1).
func TestHooksSlowBackendBlocksNoOtherSession(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	b.Answer(hooks.Connect, backend.Answer{Delay: 3 * time.Second})
	c := hookCluster(t, b, cluster.Options{Hooks: hooks.Options{Timeout: 10 * time.Second}})
	slowDone := make(chan error, 1)
	go func() {
		_, err := connectApp(t, c, "hooks", "")
		slowDone <- err
	}()
	b.WaitFor(t, 5*time.Second, "the slow connect reaching the backend", func(h backend.Hook) bool { return h.Method == hooks.Connect })
	s, err := connectApp(t, c, rest.EchoApp, "")
	if err != nil {
		t.Fatal(err)
	}
	name := streamName("beside-slow")
	publishSynthetic(t, s, name, wcs.StatusPublishing)
	play(t, s, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	select {
	case err := <-slowDone:
		t.Fatalf("the slow connect ended (%v) before the other session was done: the test proves nothing", err)
	default:
	}
	if err := <-slowDone; err != nil {
		t.Fatalf("the slow connect, answered within the timeout: %v", err)
	}
}

// TestHooksVetoPublish: a 403 on publishStream fails the stream with the backend's reason only
// when the session's restClientConfig says restOnError FAIL (from the connect answer, §F.6);
// with the default LOG the stream publishes (§F.5). No media session is ever made for a vetoed
// publish (§E.2b).
func TestHooksVetoPublish(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	b.Answer(hooks.PublishStream, backend.Answer{Status: 403, Body: `{"status":403,"reason":"No publishing today"}`})
	c := hookCluster(t, b, cluster.Options{})

	logOnly, err := connectApp(t, c, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	publishSynthetic(t, logOnly, streamName("logged"), wcs.StatusPublishing)

	b.Answer(hooks.Connect, backend.Answer{Merge: map[string]any{"restClientConfig": map[string]any{
		"publishStream": map[string]any{"restOnError": "FAIL"}}}})
	strict, err := connectApp(t, c, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	before := c.PeerConnections()
	st, err := strict.Publish(ctx(t), syntheticOptions(t, streamName("vetoed")))
	if err != nil {
		t.Fatal(err)
	}
	waitTerminal(t, st, wcs.StatusFailed, "No publishing today")
	if n := c.PeerConnections(); n != before {
		t.Errorf("peer connections %d after a vetoed publish, want %d", n, before)
	}
	b.WaitFor(t, 5*time.Second, "StreamStatusEvent FAILED of the veto", func(h backend.Hook) bool {
		return h.Method == hooks.StreamStatusEvent && h.Field("status") == wcs.StatusFailed &&
			h.Field("info") == "No publishing today" && h.Field("mediaSessionId") == st.MediaSessionID()
	})
}

// TestHooksRenameAndExclude: a backend renames a published stream (restPolicy OVERWRITE with
// restOverwrite "name"), keeps the offer out of its hooks (restExclude "sdp") and a field out
// of what the client is told (clientExclude), all from the connect answer (§F.6).
func TestHooksRenameAndExclude(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	real := streamName("real")
	b.Answer(hooks.Connect, backend.Answer{Merge: map[string]any{"restClientConfig": map[string]any{
		"publishStream":     map[string]any{"restPolicy": "OVERWRITE", "restOverwrite": "name", "restExclude": "sdp"},
		"StreamStatusEvent": map[string]any{"clientExclude": "videoCodec"},
	}}})
	b.Answer(hooks.PublishStream, backend.Answer{Merge: map[string]any{"name": real}})
	c := hookCluster(t, b, cluster.Options{})
	s, err := connectApp(t, c, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	pub := publishSynthetic(t, s, streamName("asked"), wcs.StatusPublishing)
	if obj := pub.Object(); obj.Name != real || obj.VideoCodec != "" {
		t.Errorf("PUBLISHING name %q videoCodec %q, want %q and none (clientExclude)", obj.Name, obj.VideoCodec, real)
	}
	// The stream is known under the backend's name: a player of that name plays it.
	viewer, err := connectApp(t, c, rest.DefaultApp, "")
	if err != nil {
		t.Fatal(err)
	}
	if obj := play(t, viewer, wasmclient.PlayOptions{Name: real}, wcs.StatusPlaying).Object(); obj.VideoCodec == "" {
		t.Error("a session of another app lost videoCodec: clientExclude is per session")
	}
	for _, h := range b.Of(s.AuthToken()) {
		if h.Method == hooks.PublishStream {
			if _, ok := h.Body["sdp"]; ok {
				t.Errorf("publishStream carries sdp despite restExclude: %s", h.Raw)
			}
		}
	}
}

// TestHooksKeepAliveAndData: a 403 to StreamKeepAliveEvent under restOnError FAIL ends the
// stream "Terminated by keep-alive"; a refused OnDataEvent under FAIL answers the client's
// sendData with DataStatusEvent FAILED and the reason (§F.4, §F.5).
func TestHooksKeepAliveAndData(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	b.Answer(hooks.Connect, backend.Answer{Merge: map[string]any{"restClientConfig": map[string]any{
		"StreamKeepAliveEvent": map[string]any{"restOnError": "FAIL"},
		"OnDataEvent":          map[string]any{"restOnError": "FAIL"},
	}}})
	b.Answer(hooks.OnDataEvent, backend.Answer{Status: 403, Body: `{"status":403,"reason":"Not that"}`})
	c := hookCluster(t, b, cluster.Options{Signal: func(cfg *signal.Config) { cfg.HookKeepAlive = 200 * time.Millisecond }})
	s, err := connectApp(t, c, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.SendData(ctx(t), "anything")
	if err != nil || st.Status != wcs.DataFailed || st.Info != "Not that" {
		t.Errorf("refused sendData: %+v %v", st, err)
	}
	pub := publishSynthetic(t, s, streamName("kept"), wcs.StatusPublishing)
	b.WaitFor(t, 5*time.Second, "a keep-alive of the live stream", func(h backend.Hook) bool {
		return h.Method == hooks.StreamKeepAliveEvent && h.Field("status") == wcs.StatusPublishing
	})
	b.Answer(hooks.StreamKeepAliveEvent, backend.Answer{Status: 403})
	waitTerminal(t, pub, wcs.StatusFailed, wcs.InfoTerminatedByKeepAlive)
}

// TestHooksEchoApp: the built-in EchoApp answers every hook in process (§F.2), so a fresh
// install with it behaves as WCS's default.
func TestHooksEchoApp(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.Options{})
	s, err := connectApp(t, c, rest.EchoApp, `{"x":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.SendData(ctx(t), 1); err != nil || st.Status != wcs.DataAccepted {
		t.Errorf("sendData on EchoApp: %+v %v", st, err)
	}
	name := streamName("echoed")
	publishSynthetic(t, s, name, wcs.StatusPublishing)
	play(t, s, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
}

// TestHooksConcurrentConnects: 200 sessions connect at once against a backend that takes 200 ms
// per connect. The hooks overlap — the backend sees them in flight together — instead of queueing
// behind each other. It reports the connect hook's overhead: connect time against the echo
// backend over an app without hooks.
func TestHooksConcurrentConnects(t *testing.T) {
	if testing.Short() {
		t.Skip("200 sessions")
	}
	t.Parallel()
	const n = 200
	b := backend.Start(t)
	b.Answer(hooks.Connect, backend.Answer{Delay: 200 * time.Millisecond})
	c := hookCluster(t, b, cluster.Options{})
	times := connectMany(t, c, "hooks", n)
	if peak := b.Peak(hooks.Connect); peak < n/4 {
		t.Errorf("at most %d connect hooks were in flight at once, want the %d sessions overlapping", peak, n)
	}
	t.Logf("MEASURED %d concurrent connects, backend 200 ms: p50 %v p95 %v, %d hooks in flight at the peak",
		n, pct(times, 50), pct(times, 95), b.Peak(hooks.Connect))

	// The hook's own cost: the same connect through the in-process echo and an HTTP backend that
	// answers at once, against no hook at all, one at a time.
	fast := backend.Start(t)
	c2 := cluster.Start(t, cluster.Options{Apps: []rest.App{fast.App("fast", hooks.Connect)}})
	off, echo, http := sequential(t, c2, rest.DefaultApp), sequential(t, c2, rest.EchoApp), sequential(t, c2, "fast")
	t.Logf("MEASURED connect one at a time: no hook p50 %v p95 %v; EchoApp p50 %v p95 %v; HTTP backend on loopback p50 %v p95 %v",
		pct(off, 50), pct(off, 95), pct(echo, 50), pct(echo, 95), pct(http, 50), pct(http, 95))
}

// connectMany connects n sessions of appKey at once and returns how long each took.
func connectMany(t *testing.T, c *cluster.Cluster, appKey string, n int) []time.Duration {
	t.Helper()
	times := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			s, err := wasmclient.Connect(context.Background(), c.WSURL, wasmclient.SessionOptions{AppKey: appKey})
			times[i], errs[i] = time.Since(start), err
			if err == nil {
				t.Cleanup(func() { _ = s.Close() })
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent connects: %v", err)
	}
	return times
}

// sequential connects 50 sessions of appKey one after the other and returns how long each took.
func sequential(t *testing.T, c *cluster.Cluster, appKey string) []time.Duration {
	t.Helper()
	var out []time.Duration
	for range 50 {
		start := time.Now()
		s, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{AppKey: appKey})
		if err != nil {
			t.Fatalf("connect %s: %v", appKey, err)
		}
		out = append(out, time.Since(start))
		_ = s.Close()
	}
	return out
}

// pct is the p-th percentile of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))].Round(10 * time.Microsecond)
}

// TestHooksOrderWithASlowBackend: the hooks that gate an operation wait their turn behind the
// session's earlier events, so a backend slow to take StreamStatusEvent still hears PLAYING
// before the OnDataEvent that came after it (§F.1).
func TestHooksOrderWithASlowBackend(t *testing.T) {
	t.Parallel()
	b := backend.Start(t)
	b.Answer(hooks.StreamStatusEvent, backend.Answer{Delay: 300 * time.Millisecond})
	c := hookCluster(t, b, cluster.Options{})
	s, err := connectApp(t, c, "hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	name := streamName("slow-events")
	publishSynthetic(t, s, name, wcs.StatusPublishing)
	play(t, s, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	if st, err := s.SendData(ctx(t), "after PLAYING"); err != nil || st.Status != wcs.DataAccepted {
		t.Fatalf("sendData: %+v %v", st, err)
	}
	got := backend.Methods(b.Of(s.AuthToken()))
	want := []string{"connect", "ConnectionStatusEvent:ESTABLISHED", "publishStream", "StreamStatusEvent:PUBLISHING",
		"playStream", "StreamStatusEvent:PLAYING", "OnDataEvent"}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("hooks with a slow StreamStatusEvent:\n got %q\nwant %q…", got, want)
	}
}
