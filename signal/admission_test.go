package signal_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/testkit/testwait"
)

// fromIP dials from a local source address (any of 127/8 reaches the loopback server), so that
// one test plays several client IPs.
func fromIP(ip string) *websocket.DialOptions {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}

// refusedDial dials and expects the upgrade refused with 503 and a body containing want.
func refusedDial(t *testing.T, url string, opts *websocket.DialOptions, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, opts)
	if err == nil {
		_ = ws.CloseNow()
		t.Fatalf("upgrade accepted, want 503 %q", want)
	}
	if resp == nil {
		t.Fatalf("dial: %v, want an HTTP 503 answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), want) || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal %d %q (Retry-After %q), want 503 containing %q", resp.StatusCode, body, resp.Header.Get("Retry-After"), want)
	}
}

// The 201st WebSocket from one client IP is refused with 503 and the limit in the body; another
// IP still gets in, and a socket that ends frees its place (README "Limits that protect the
// server").
func TestSessionsPerIPCapped(t *testing.T) {
	const limit = 200
	e := newEnv(t, signal.Config{MaxSessionsPerIP: limit})
	clients := make([]*client, limit)
	for i := range clients {
		clients[i] = e.dial(t)
	}
	eventually(t, "200 sessions open", func() bool { return e.srv.Sessions() == limit })
	refusedDial(t, e.url, nil, "Too many WebSocket sessions from 127.0.0.1: the limit is 200")
	if n := e.metric(metrics.NameRefused, metrics.RefusedIPLimit); n != 1 {
		t.Errorf("refused{ip_limit} = %v, want 1", n)
	}
	other := dialURL(t, e.url, fromIP("127.0.0.2"))
	other.connect(nil)

	// A socket that ends gives its place back: the next dial from that IP gets in.
	_ = clients[0].ws.Close(websocket.StatusNormalClosure, "")
	<-clients[0].closed
	testwait.UntilOK(t, waitFor, "a place freed by a closed socket", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, e.url, nil)
		if err != nil {
			return err
		}
		return ws.CloseNow()
	})
}

// Past --max-sessions the node refuses every IP.
func TestSessionsPerNodeCapped(t *testing.T) {
	e := newEnv(t, signal.Config{MaxSessions: 3, MaxSessionsPerIP: 2})
	for _, ip := range []string{"127.0.0.1", "127.0.0.1", "127.0.0.2"} {
		dialURL(t, e.url, fromIP(ip)).connect(nil)
	}
	refusedDial(t, e.url, fromIP("127.0.0.3"), "Server full: 3 WebSocket sessions")
	if n := e.metric(metrics.NameRefused, metrics.RefusedNodeLimit); n != 1 {
		t.Errorf("refused{node_limit} = %v, want 1", n)
	}
	if n := e.metric(metrics.NameRefused, metrics.RefusedIPLimit); n != 0 {
		t.Errorf("refused{ip_limit} = %v, want 0", n)
	}
}

// A socket that never sends connection is closed at the deadline with a reason it can read, and
// everything the node ran for it ends; a session that connected in time outlives the deadline.
func TestConnectionDeadline(t *testing.T) {
	const deadline = 300 * time.Millisecond
	e := newEnv(t, signal.Config{ConnectionDeadline: deadline, PingInterval: 100 * time.Millisecond})
	live := e.dial(t)
	live.connect(nil)
	eventually(t, "the live session open", func() bool { return e.srv.Sessions() == 1 })
	base := runtime.NumGoroutine()

	start := time.Now()
	silent := e.dial(t)
	if code := silent.waitClosed(waitFor); code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %v (%v), want 1008", code, silent.err)
	}
	var ce websocket.CloseError
	if !errors.As(silent.err, &ce) || ce.Reason != session.ConnectionDeadlineReason(deadline) {
		t.Errorf("close %v, want reason %q", silent.err, session.ConnectionDeadlineReason(deadline))
	}
	if took := time.Since(start); took < deadline {
		t.Errorf("closed after %v, before the %v deadline", took, deadline)
	}
	if n := e.metric(metrics.NameRefused, metrics.RefusedDeadline); n != 1 {
		t.Errorf("refused{connection_deadline} = %v, want 1", n)
	}
	eventually(t, "the silent session gone", func() bool { return e.srv.Sessions() == 1 })
	testwait.Goroutines(t, base, 0, waitFor)

	// Six pings at 100 ms: the live session is well past the deadline and still served.
	live.pings(6)
	live.send("sendData", map[string]any{"operationId": "o1", "payload": map[string]any{}})
	live.expect("DataStatusEvent")
}
