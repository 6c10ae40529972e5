package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// keepAliveResult is window.__result of web/keepalive.html.
type keepAliveResult struct {
	Done            bool        `json:"done"`
	OK              bool        `json:"ok"`
	Error           string      `json:"error"`
	Timeline        []pageEvent `json:"timeline"`
	AuthToken       string      `json:"authToken"`
	PublisherID     string      `json:"publisherId"`
	ReattachToken   string      `json:"reattachToken"`
	ReattachStreams int         `json:"reattachStreams"`
	PublisherStatus string      `json:"publisherStatus"`
	Sockets         []struct {
		URL       string `json:"url"`
		Opened    bool   `json:"opened"`
		CloseCode *int   `json:"closeCode"`
		Frames    []struct {
			Message        string `json:"message"`
			Status         string `json:"status"`
			Info           string `json:"info"`
			MediaSessionID string `json:"mediaSessionId"`
			AuthToken      string `json:"authToken"`
		} `json:"frames"`
	} `json:"sockets"`
}

func (r keepAliveResult) event(who, status string) (pageEvent, bool) {
	for _, e := range r.Timeline {
		if e.Who == who && e.Status == status {
			return e, true
		}
	}
	return pageEvent{}, false
}

// keepAliveGrace is the signal node's --keepalive-grace in TestWebSDKKeepAliveReattach: long
// enough that nothing in the test waits for it.
const keepAliveGrace = 20 * time.Second

// TestWebSDKKeepAliveReattach is the keepAlive re-attach (docs/protocol.md §H.8) with the
// official WebSDK. The page creates its session with keepAlive:true through cutProxy, a TCP proxy
// in front of the signal node, and publishes; a wasmclient player on the same node plays the
// stream. The proxy then loses the page's WebSocket without a close frame, and the page reconnects
// as the SDK's phone demo does ("Connect with token"): createSession({keepAlive:true, authToken})
// with the token of its first getUserData, to the other signal node (the session stays on the
// first, reached through the second: signal/tunnel.go).
//
// What the SDK (2.0.276) can do: its stream objects belong to the session object that created
// them, and a re-attach is a new session object, which does not know them (getStreams() is
// empty); the server's notifyStreamStatusEvent of the held publisher arrives on the new socket,
// and the SDK drops it (no handler for that mediaSessionId). The re-attached session does own
// the stream: closing it ends the publisher, and the player gets FAILED "Stopped by publisher
// stop". Two cuts:
//
//   - cut-server-side: the server's side of the socket is lost, the browser's stays open and
//     silent (the page has not noticed yet). The SDK keeps its publisher and its peer connection:
//     the player keeps receiving video through the cut; the re-attach gets the same authToken and
//     the publisher's PUBLISHING; the old stream object never hears anything again.
//   - cut-both-sides: both TCP connections close (close 1006 in the page). On that close the SDK
//     fails its streams locally and closes their peer connections (flashphoner-core.js
//     onSessionStatusChange, then the stream's mediaConnection.close): the media stops with the
//     socket, and the server must end that publisher and tell its player.
func TestWebSDKKeepAliveReattach(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	b, _ := launch(t, 3*time.Minute)
	c := cluster.Start(t, cluster.Options{Signals: 2, Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = keepAliveGrace }})
	base := serveAssets(t)
	for _, mode := range []cutMode{cutServerSide, cutBoth} {
		t.Run(mode.String(), func(t *testing.T) { runKeepAlive(t, b, c, base, mode) })
	}
}

// runKeepAlive drives web/keepalive.html through one cut of mode (see TestWebSDKKeepAliveReattach).
func runKeepAlive(t *testing.T, b *Browser, c *cluster.Cluster, base string, mode cutMode) {
	start := time.Now()
	proxy := startCutProxy(t, c.WSURL)
	name := "e2e-" + randomHex(4)
	// The page comes back through the other signal node, as a balancer may send it.
	q := url.Values{"ws": {proxy.URL}, "reattachWs": {c.WSURLs[1]}, "name": {name}}
	if err := b.Navigate(b.Context(), base+"/keepalive.html?"+pageQuery(q)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), 60*time.Second)
	defer cancel()
	partial := func() string {
		raw, _ := b.EvalJSON(ctx, `window.__result`)
		return string(raw)
	}
	if _, err := b.WaitJSON(ctx, `window.__result.publisherId || window.__result.done`, 20*time.Millisecond); err != nil {
		t.Fatalf("the page did not publish: %v\n%s", err, partial())
	}
	player := playWasm(t, c.WSURL, name)
	waitVideo(t, player, 10, "video before the cut")

	cutAt := time.Now()
	if n := proxy.Cut(mode); n != 1 {
		t.Fatalf("the proxy cut %d connections, want the page's one", n)
	}
	before := player.ReceiveStats().VideoPackets
	switch mode {
	case cutServerSide:
		// The media goes on: the page's peer connection is untouched and the server holds the
		// session (§H.8).
		if err := pollUntil(10*time.Second, func() error {
			if rs := player.ReceiveStats(); rs.VideoPackets < before+30 {
				return fmt.Errorf("have %d video packets, %d at the cut", rs.VideoPackets, before)
			}
			return nil
		}); err != nil {
			t.Errorf("the player got no video while the page's socket was cut: %v", err)
		} else {
			t.Logf("the player received 30 more video packets %v after the cut", time.Since(cutAt).Round(time.Millisecond))
		}
	case cutBoth:
		if _, err := b.WaitJSON(ctx, `window.__result.timeline.some(e => e.who === "session" && e.status === "DISCONNECTED")`,
			20*time.Millisecond); err != nil {
			t.Fatalf("the page's session did not see the cut: %v", err)
		}
		// The SDK closed the publisher's peer connection (Chromium sends a DTLS close_notify):
		// no more media, so the server must end the publisher and its player.
		if obj, err := player.WaitStatus(ctxFor(t, 10*time.Second), wcs.StatusFailed, wcs.StatusStopped); err != nil {
			t.Errorf("the player is still %s (%d video packets, %d at the cut) 10 s after the page's SDK closed the "+
				"publisher's peer connection: the server did not end a publisher whose peer closed its connection: %v",
				player.Status(), player.ReceiveStats().VideoPackets, before, err)
		} else {
			t.Logf("player %s %q %v after the cut", obj.Status, obj.Info, time.Since(cutAt).Round(time.Millisecond))
		}
	}

	if _, err := b.EvalJSON(ctx, `window.reattach()`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitJSON(ctx, `window.__result.reattachToken || window.__result.done`, 20*time.Millisecond); err != nil {
		t.Fatalf("the re-attach did not establish: %v\n%s", err, partial())
	}
	t.Logf("re-attached %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	// Let the status frames that follow getUserData arrive, then close the re-attached session.
	if _, err := b.WaitJSON(ctx, `(function () { var r = window.__result, s = r.sockets[1];
		return !!s && s.frames.some(function (f) { return f.message === "notifyStreamStatusEvent" && f.mediaSessionId === r.publisherId; }); })()`,
		20*time.Millisecond); err != nil {
		t.Errorf("the re-attached socket got no notifyStreamStatusEvent of the page's publisher: %v", err)
	}
	closedAt := time.Now()
	if _, err := b.EvalJSON(ctx, `window.disconnect()`); err != nil {
		t.Fatal(err)
	}
	var res keepAliveResult
	waitResult(t, b, ctx, 20*time.Second, &res)
	for _, e := range res.Timeline {
		t.Logf("  %6d ms  %-10s %s %s", e.Ms, e.Who, e.Status, e.Info)
	}
	if !res.OK {
		t.Errorf("page failed: %s", res.Error)
	}

	// The same session: getUserData of the re-attach carries the first one's authToken.
	if res.AuthToken == "" || res.ReattachToken != res.AuthToken {
		t.Errorf("re-attach authToken %q, want the first session's %q", res.ReattachToken, res.AuthToken)
	}
	if len(res.Sockets) != 2 {
		t.Fatalf("%d WebSockets in the page, want 2 (the cut one and the re-attach)", len(res.Sockets))
	}
	for i, s := range res.Sockets {
		for _, f := range s.Frames {
			if f.Message == "getUserData" && f.AuthToken != res.AuthToken {
				t.Errorf("socket %d: getUserData authToken %q, want %q", i, f.AuthToken, res.AuthToken)
			}
			if f.Message == "notifyStreamStatusEvent" {
				t.Logf("  socket %d (%s): notifyStreamStatusEvent %s %s %q", i, s.URL, f.MediaSessionID, f.Status, f.Info)
			}
		}
	}
	var reattachStatus string
	for _, f := range res.Sockets[1].Frames {
		if f.Message == "notifyStreamStatusEvent" && f.MediaSessionID == res.PublisherID {
			reattachStatus = f.Status
			break
		}
	}
	// The SDK's limits: a new session object knows no stream; the old stream object hears
	// nothing through the new socket.
	if res.ReattachStreams != 0 {
		t.Errorf("the re-attached session object has %d streams; SDK 2.0.276 binds none", res.ReattachStreams)
	}
	switch mode {
	case cutServerSide:
		if reattachStatus != wcs.StatusPublishing {
			t.Errorf("the re-attach reported the held publisher %q, want %s", reattachStatus, wcs.StatusPublishing)
		}
		if res.PublisherStatus != wcs.StatusPublishing {
			t.Errorf("the page's old stream object is %s; it can hear nothing after the cut, so PUBLISHING", res.PublisherStatus)
		}
		if _, ok := res.event("session", "DISCONNECTED"); ok {
			t.Error("the page's first session saw a close, but its browser side of the socket was kept open")
		}
	case cutBoth:
		if e, ok := res.event("publisher", "FAILED"); !ok {
			t.Errorf("the SDK did not fail its publisher when the socket closed (timeline %+v)", res.Timeline)
		} else {
			t.Logf("the SDK failed its publisher locally at %d ms, with the session's close", e.Ms)
		}
		if reattachStatus == wcs.StatusPublishing {
			t.Errorf("the re-attach reported the publisher PUBLISHING, though the page's SDK had closed its peer " +
				"connection at the cut (no media since)")
		}
	}

	// The re-attached session owns the stream: closing it (a close frame, §E.8) ends the
	// publisher at once, and its player is told.
	obj, err := player.WaitStatus(ctxFor(t, 10*time.Second), wcs.StatusFailed, wcs.StatusStopped)
	if err != nil || obj.Status != wcs.StatusFailed {
		t.Errorf("player after the re-attached session closed: %s %q, %v", obj.Status, obj.Info, err)
	} else {
		t.Logf("player %s %q %v after the re-attached session closed", obj.Status, obj.Info, time.Since(closedAt).Round(time.Millisecond))
	}
	testwait.UntilOK(t, 10*time.Second, "the page's session gone from the node", func() error {
		if n := c.Signals[0].Sessions(); n != 1 {
			return fmt.Errorf("%d sessions on the node, want the player's 1", n)
		}
		return nil
	})
	t.Logf("%s done in %v", mode, time.Since(start).Round(time.Millisecond))
}

// playWasm plays name on ws with a wasmclient session until the test ends.
func playWasm(t *testing.T, ws, name string) *wasmclient.Stream {
	t.Helper()
	s := connectClient(t, ws)
	st, err := s.Play(ctxFor(t, 20*time.Second), wasmclient.PlayOptions{Name: name})
	if err != nil {
		t.Fatalf("play %s: %v", name, err)
	}
	if _, err := st.WaitStatus(ctxFor(t, 20*time.Second), wcs.StatusPlaying); err != nil {
		t.Fatalf("play %s: %v", name, err)
	}
	return st
}

// waitVideo waits until the player has received n more video packets.
func waitVideo(t *testing.T, st *wasmclient.Stream, n uint64, what string) {
	t.Helper()
	from := st.ReceiveStats().VideoPackets
	testwait.UntilOK(t, 15*time.Second, what, func() error {
		if rs := st.ReceiveStats(); rs.VideoPackets < from+n {
			return fmt.Errorf("have %+v", rs)
		}
		return nil
	})
}

// pollUntil polls check every 10 ms until it returns nil or timeout passes; it returns check's
// last error (nil: it held), for the waits whose failure the caller reports.
func pollUntil(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ctxFor is a context that ends after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// --- the cutting proxy ---

// cutMode is how cutProxy.Cut loses a connection. Neither sends a WebSocket close frame.
type cutMode int

const (
	// cutBoth closes both TCP connections: the server and the browser each see the socket end
	// without a close frame (a WebSocket close 1006 for the page).
	cutBoth cutMode = iota
	// cutServerSide closes only the connection to the server and keeps the browser's open but
	// silent (what it sends is dropped): the server has lost the socket, the page has not
	// noticed yet, as after a network cut that the browser's TCP has not timed out on.
	cutServerSide
)

func (m cutMode) String() string {
	if m == cutBoth {
		return "cut-both-sides"
	}
	return "cut-server-side"
}

// cutProxy is a TCP proxy on 127.0.0.1 in front of a WebSocket server whose connections the test
// cuts. It closes in t.Cleanup.
type cutProxy struct {
	URL string // ws://127.0.0.1:port

	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	pairs []*proxyPair // open, not cut
	cut   []*proxyPair // cut by cutServerSide: the browser's side is still open
}

type proxyPair struct {
	client, server net.Conn
	mu             sync.Mutex
	silent         bool // cutServerSide: drop what the client sends, keep it open
}

func startCutProxy(t *testing.T, wsURL string) *cutProxy {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{URL: "ws://" + ln.Addr().String(), ln: ln, target: u.Host}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = client.Close()
			continue
		}
		pair := &proxyPair{client: client, server: server}
		p.mu.Lock()
		p.pairs = append(p.pairs, pair)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); pair.clientToServer() }()
		go func() { defer p.wg.Done(); pair.serverToClient() }()
	}
}

func (pp *proxyPair) isSilent() bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.silent
}

// clientToServer copies until the client's side ends; once silent it reads and drops.
func (pp *proxyPair) clientToServer() {
	buf := make([]byte, 32<<10)
	for {
		n, err := pp.client.Read(buf)
		if n > 0 && !pp.isSilent() {
			if _, werr := pp.server.Write(buf[:n]); werr != nil && !pp.isSilent() {
				pp.closeBoth()
				return
			}
		}
		if err != nil {
			pp.closeBoth()
			return
		}
	}
}

// serverToClient copies until the server's side ends, which ends the client's side too unless
// the pair was made silent.
func (pp *proxyPair) serverToClient() {
	_, _ = io.Copy(pp.client, pp.server)
	if !pp.isSilent() {
		pp.closeBoth()
	}
}

func (pp *proxyPair) closeBoth() {
	_ = pp.client.Close()
	_ = pp.server.Close()
}

// Cut loses every connection open now, as mode says, and returns how many.
func (p *cutProxy) Cut(mode cutMode) int {
	p.mu.Lock()
	pairs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	for _, pp := range pairs {
		switch mode {
		case cutBoth:
			pp.closeBoth()
		case cutServerSide:
			pp.mu.Lock()
			pp.silent = true
			pp.mu.Unlock()
			_ = pp.server.Close()
		}
	}
	p.mu.Lock()
	p.cut = append(p.cut, pairs...)
	p.mu.Unlock()
	return len(pairs)
}

// Close stops accepting, closes every connection (the silent ones too) and waits for the copiers.
func (p *cutProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	all := append(p.pairs, p.cut...)
	p.pairs, p.cut = nil, nil
	p.mu.Unlock()
	for _, pp := range all {
		pp.closeBoth()
	}
	p.wg.Wait()
}
