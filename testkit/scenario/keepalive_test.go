package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestKeepAliveReattach (docs/protocol.md §H.8): a publisher's session created with keepAlive
// outlives its WebSocket: its stream goes on for the players while the socket is gone, a new
// connection carrying its authToken takes the session over (same token, the stream still
// PUBLISHING), and once nobody re-attaches within the grace the session ends as a disconnect.
func TestKeepAliveReattach(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Second
	c := cluster.Start(t, cluster.Options{Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = grace }})
	keep := map[string]any{"keepAlive": true}
	pubSess, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{Extra: keep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pubSess.Close() })
	name := streamName("kept")
	publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video before the cut")

	token := pubSess.AuthToken()
	pubSess.DropSocket()
	before := player.ReceiveStats().VideoPackets
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before+30 },
		"video while the publisher's socket is gone")

	back, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{
		Extra: map[string]any{"keepAlive": true, "authToken": token}})
	if err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	t.Cleanup(func() { _ = back.Close() })
	if back.AuthToken() != token {
		t.Fatalf("re-attach got authToken %q, want the session's %q", back.AuthToken(), token)
	}
	streams := restFindStreams(t, c, rest.StreamFilter{SessionID: token})
	if len(streams) != 1 || streams[0].Name != name || streams[0].Status != wcs.StatusPublishing {
		t.Errorf("after the re-attach the session holds %+v, want %s PUBLISHING", streams, name)
	}

	// A token nobody waits with is a new session.
	other, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{
		Extra: map[string]any{"keepAlive": true, "authToken": "no-such-session"}})
	if err != nil {
		t.Fatal(err)
	}
	if other.AuthToken() == "no-such-session" || other.AuthToken() == token {
		t.Errorf("an unknown authToken re-attached: %q", other.AuthToken())
	}
	// A page that disconnects (a close frame) ends its keepAlive session at once: only a lost
	// socket is waited for.
	closed := time.Now()
	_ = other.Close()
	testwait.Until(t, grace, "a keepAlive session closed by its page gone", func() bool {
		var conns []rest.Connection
		return restPost(t, c.RESTURLs[0]+"/rest-api/connection/find", `{"sessionId":"`+other.AuthToken()+`"}`, &conns) == http.StatusNotFound
	})
	if d := time.Since(closed); d >= grace {
		t.Errorf("the closed keepAlive session lasted %v", d)
	}

	cut := time.Now()
	back.DropSocket()
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	if waited := time.Since(cut); waited < grace-500*time.Millisecond {
		t.Errorf("the session ended %v after its socket, before its %v grace", waited, grace)
	}
	testwait.UntilOK(t, 10*time.Second, "the session and its publisher gone", func() error {
		if n, pcs := c.Signals[0].Sessions(), c.PeerConnections(); n != 1 || pcs != 0 {
			return fmt.Errorf("%d sessions (want the player's 1) and %d peer connections (want none: the publisher's ended, and with it its player)", n, pcs)
		}
		return nil
	})
}

// restFindStreams asks the cluster's REST API for the streams f matches (none: empty).
func restFindStreams(t *testing.T, c *cluster.Cluster, f rest.StreamFilter) []rest.Stream {
	t.Helper()
	body, _ := json.Marshal(f)
	var out []rest.Stream
	restPost(t, c.RESTURLs[0]+"/rest-api/stream/find", string(body), &out)
	return out
}

// TestKeepAliveReattachAnotherNode (docs/protocol.md §H.8): a keepAlive session of signal node A
// whose socket is lost re-attaches through signal node B (a balancer may send the page anywhere):
// same token, its stream still PUBLISHING, and the socket on B drives the session on A both ways
// (a second publish through B's tunnel is played). When B stops, the socket it carried is lost,
// not closed, so the session waits again and re-attaches on A itself; a page's close through the
// tunnel would end it, as a local one does.
func TestKeepAliveReattachAnotherNode(t *testing.T) {
	t.Parallel()
	const grace = 5 * time.Second
	c := cluster.Start(t, cluster.Options{Signals: 2, NATSAuth: true, Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = grace }})
	a, b := c.WSURLs[0], c.WSURLs[1]
	keep := map[string]any{"keepAlive": true}
	pubSess, err := wasmclient.Connect(ctx(t), a, wasmclient.SessionOptions{Extra: keep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pubSess.Close() })
	name := streamName("kept-x")
	publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: a}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video before the cut")

	token := pubSess.AuthToken()
	pubSess.DropSocket()
	// The session is detached on A once A has seen the socket end: until then a connection with
	// its token takes it over too (TestKeepAliveTakeOver), so this one may land either way.
	via := reattachTo(t, b, token)
	t.Cleanup(func() { _ = via.Close() })
	if n := c.Signals[1].Sessions(); n != 0 {
		t.Errorf("node B holds %d sessions, want none: the re-attached one stays on A", n)
	}
	streams := restFindStreams(t, c, rest.StreamFilter{SessionID: token})
	if len(streams) != 1 || streams[0].Name != name || streams[0].Status != wcs.StatusPublishing {
		t.Errorf("after the re-attach the session holds %+v, want %s PUBLISHING", streams, name)
	}
	// Both directions of the tunnel: a publish (SDP offer up, answer and statuses down).
	second := streamName("via-b")
	publishSynthetic(t, via, second, wcs.StatusPublishing)
	p2 := play(t, connect(t, Target{WSURL: a}), wasmclient.PlayOptions{Name: second}, wcs.StatusPlaying)
	waitReceived(t, p2, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video of the stream published through B")
	if st := restFindStreams(t, c, rest.StreamFilter{Name: second, SessionID: token}); len(st) != 1 || !st[0].Published {
		t.Errorf("the streams of session %s named %s are %+v, want its publisher", token, second, st)
	}

	// Node B stops: the socket it carried is lost to the session, which waits again.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Signals[1].Shutdown(sctx); err != nil {
		t.Fatalf("stop node B: %v", err)
	}
	select {
	case <-via.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the socket through node B is still open after B stopped")
	}
	// The client saw its socket closed, so it closed the peer connection of the stream it
	// published through B (as the WebSDK does): that one ends. The first stream's publisher kept
	// its media (DropSocket), and the session is A's again.
	waitTerminal(t, p2, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	back := reattachTo(t, a, token)
	if got := restFindStreams(t, c, rest.StreamFilter{SessionID: token}); len(got) != 1 || got[0].Name != name {
		t.Errorf("after B stopped and the page came back to A the session holds %+v, want %s", got, name)
	}
	before := player.ReceiveStats().VideoPackets
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before+30 }, "video after B stopped")
	_ = back.Close()
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
}

// reattachTo connects to url with the keepAlive session token and fails the test unless it
// re-attaches within a few seconds (the session's node may not have seen its last socket go).
func reattachTo(t *testing.T, url, token string) *wasmclient.Session {
	t.Helper()
	var s *wasmclient.Session
	testwait.UntilOK(t, 5*time.Second, "re-attach through "+url, func() error {
		got, err := wasmclient.Connect(ctx(t), url, wasmclient.SessionOptions{
			Extra: map[string]any{"keepAlive": true, "authToken": token}})
		if err != nil {
			return err
		}
		if got.AuthToken() != token {
			_ = got.Close()
			return fmt.Errorf("got a new session %q, want %q", got.AuthToken(), token)
		}
		s = got
		return nil
	})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestKeepAliveTakeOver (docs/protocol.md §H.8): a client that comes back with its keepAlive
// token while the server still holds its old socket (a silent network cut is noticed only from
// missed pings, up to 50 s later) takes its session over at once, on the same node or through
// another; the stream goes on, and the old socket's end, when the server gets to it, neither
// detaches nor ends the session. Each socket goes through a proxy that freezes it: nothing
// passes either way and neither end is closed, as in a cut the ends have not noticed.
func TestKeepAliveTakeOver(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t, cluster.Options{Signals: 2, Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = time.Minute }})
	dial := func(url, token string) (*wasmclient.Session, *freezeProxy) {
		t.Helper()
		p := startFreezeProxy(t, url)
		extra := map[string]any{"keepAlive": true}
		if token != "" {
			extra["authToken"] = token
		}
		s, err := wasmclient.Connect(ctx(t), p.URL, wasmclient.SessionOptions{Extra: extra})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s, p
	}
	first, proxy := dial(c.WSURLs[0], "")
	name := streamName("taken")
	publishSynthetic(t, first, name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: c.WSURLs[0]}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	token := first.AuthToken()
	var last *wasmclient.Session
	for i, url := range []string{c.WSURLs[0], c.WSURLs[1], c.WSURLs[1], c.WSURLs[0]} {
		proxy.Freeze()
		next, p := dial(url, token)
		if next.AuthToken() != token {
			t.Fatalf("take-over %d through %s: a new session %q, want %q", i, url, next.AuthToken(), token)
		}
		proxy, last = p, next
		before := player.ReceiveStats().VideoPackets
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before+20 }, "video after take-over %d", i)
		if st := restFindStreams(t, c, rest.StreamFilter{SessionID: token}); len(st) != 1 || st[0].Status != wcs.StatusPublishing {
			t.Fatalf("after take-over %d the session holds %+v, want %s PUBLISHING", i, st, name)
		}
	}
	// The frozen sockets end at the server (the close handshake it began times out) without
	// touching the session; the last socket still drives it.
	second := streamName("taken-2")
	publishSynthetic(t, last, second, wcs.StatusPublishing)
	// The last socket's page closes: the session ends at once, both streams with it.
	_ = last.Close()
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
}

// freezeProxy is a TCP proxy in front of a WebSocket URL whose connections can be frozen.
type freezeProxy struct {
	URL    string
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func startFreezeProxy(t *testing.T, wsURL string) *freezeProxy {
	t.Helper()
	u, err := neturl.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{URL: "ws://" + ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				_ = client.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, client, server)
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); p.copy(server, client) }()
			go func() { defer wg.Done(); p.copy(client, server) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

// Freeze stops every byte from now on, both ways, and closes nothing.
func (p *freezeProxy) Freeze() { p.frozen.Store(true) }

func (p *freezeProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !p.frozen.Load() {
				_ = dst.Close()
			}
			return
		}
	}
}
