package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/nginx"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// The official WebSDK against the ways a load-balanced deployment is reached (README "TLS",
// "Load-balanced deployment"; issue 8): wss:// to a node's self-signed port, ws:// through the
// shipped nginx, and the SDK's own load-balancer lookup (lbUrl, docs/protocol.md §H.7). Each
// publishes Chromium's fake camera and plays it back with decoded frames (publishPlayPage).

// requireOwnServer skips a test that starts its own servers under POTOK_E2E_WSURL.
func requireOwnServer(t *testing.T) {
	t.Helper()
	if os.Getenv(envWSURL) != "" {
		t.Skipf("%s is set: this test starts its own servers", envWSURL)
	}
}

// TestWebSDKOverWSS runs the all-in-one potok binary with its WCS TLS port (--wss-listen) and no
// certificate configured, so that it generates a self-signed one in its state directory (README
// "TLS"). Chromium, told to accept that certificate (IgnoreCertificateErrors, this test only),
// loads the page over http and the WebSDK connects with urlServer wss://127.0.0.1:<port>: it
// publishes there and plays the stream back in a second session, also over wss://, with decoded
// frames.
func TestWebSDKOverWSS(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	start := time.Now()
	state := t.TempDir()
	p := startPotok(t, []string{"STATE_DIRECTORY=" + state}, "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0", "--wss-listen", "127.0.0.1:0", "--https-listen", "",
		"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only")
	wss := "wss://" + p.waitAddr(t, "wss listening")
	waitReady(t, "http://"+p.waitAddr(t, "http listening")+"/ready")
	if !p.logged("generated a self-signed TLS certificate (no --tls-cert); browsers must be told to trust it") {
		t.Errorf("potok did not log a generated self-signed certificate:\n%s", p.tail(30))
	}
	for _, f := range []string{"tls-cert.pem", "tls-key.pem"} {
		if _, err := os.Stat(filepath.Join(state, f)); err != nil {
			t.Errorf("the state directory lacks the generated %s: %v", f, err)
		}
	}
	t.Logf("potok up with wss on %s in %v", wss, time.Since(start).Round(time.Millisecond))

	base := serveAssets(t)
	b, ctx := launch(t, 2*time.Minute, IgnoreCertificateErrors)
	res := publishPlayPage(t, b, ctx, base, url.Values{"ws": {wss}, "playWs": {wss}})
	if res.ServerURL != wss || res.PlayServerURL != wss {
		t.Errorf("the sessions connected to %q and %q, want %q", res.ServerURL, res.PlayServerURL, wss)
	}
}

// TestWebSDKThroughNginx puts Debian's nginx with the shipped deploy/nginx/potok.conf in front of
// the two signal nodes of an in-process cluster (README "Load-balanced deployment"). An idle
// session through nginx takes one node (least_conn), so the page's publisher, connecting with
// urlServer ws://nginx, lands on the other one; the page plays the stream from the first node
// directly, with decoded frames. The REST API (stream/find) shows the publisher on the node nginx
// chose, so publish and play really were on different signal nodes.
func TestWebSDKThroughNginx(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	b, ctx := launch(t, 2*time.Minute)
	c := cluster.Start(t, cluster.Options{Signals: 2, Mediads: 2})
	lb := nginx.Start(t, nginx.Options{Deploy: nginx.DeployDir(t), WS: hostPorts(t, c.WSURLs),
		HTTP: hostPorts(t, c.RESTURLs), ReadyPath: signal.LBPath})
	base := serveAssets(t)

	idle := connectClient(t, lb.WS)
	first := -1
	testwait.UntilOK(t, 10*time.Second, "the idle session through nginx on a signal node", func() error {
		for i, s := range c.Signals {
			if s.Sessions() == 1 {
				first = i
				return nil
			}
		}
		return fmt.Errorf("sessions per node: %d, %d", c.Signals[0].Sessions(), c.Signals[1].Sessions())
	})
	other := 1 - first
	t.Logf("the idle session through nginx went to %s; the page's publisher should go to %s",
		c.Signals[first].NodeID(), c.Signals[other].NodeID())

	name := "e2e-" + randomHex(4)
	publisher := watchPublisher(t, c.RESTURLs[0], name)
	res := publishPlayPage(t, b, ctx, base, url.Values{"ws": {lb.WS}, "playWs": {c.WSURLs[first]}, "name": {name}})
	pub := publisher()
	if pub.NodeID != c.Signals[other].NodeID() || pub.SessionID != res.AuthToken {
		t.Errorf("the publisher through nginx was on %q in session %q, want %q and the page's %q",
			pub.NodeID, pub.SessionID, c.Signals[other].NodeID(), res.AuthToken)
	}
	if res.ServerURL != lb.WS {
		t.Errorf("the publisher's session connected to %q, want nginx's %q", res.ServerURL, lb.WS)
	}
	_ = idle.Close()
}

// TestWebSDKLbURL proves the WebSDK's load-balancer lookup against Potok (docs/protocol.md §H.7):
// signal node A of a cluster of two carries three idle sessions, so its /lb names node B (steadily,
// once A's heartbeat carries them); the page
// creates its session with urlServer ws://A and lbUrl http://A/lb, and the SDK connects to the node
// the lookup named. The publisher's session is on B (its getServerUrl is B's WebSocket URL, the
// REST API puts the page's stream there) and the page plays it from a second session on A, with
// decoded frames.
func TestWebSDKLbURL(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	b, ctx := launch(t, 2*time.Minute)
	c := cluster.Start(t, cluster.Options{Signals: 2, Mediads: 2})
	base := serveAssets(t)

	for range 3 {
		connectClient(t, c.WSURLs[0])
	}
	lbURL := c.RESTURLs[0] + signal.LBPath
	wsB, err := url.Parse(c.WSURLs[1])
	if err != nil {
		t.Fatal(err)
	}
	// Until A's heartbeat carries its sessions both nodes have none and the lookup draws one at
	// random; once it does (heartbeats every second), every lookup names B. So B must be named by
	// every lookup (one per 10 ms poll) for lbSteady, more than a heartbeat period.
	const lbSteady = 1500 * time.Millisecond
	var since time.Time
	testwait.UntilOK(t, 15*time.Second, fmt.Sprintf("/lb on node A to name node B for %v", lbSteady), func() error {
		var lb struct {
			Server string `json:"server"`
			WS     int    `json:"ws"`
		}
		if err := getJSON(lbURL, &lb); err != nil {
			return err
		}
		if got := net.JoinHostPort(lb.Server, fmt.Sprint(lb.WS)); got != wsB.Host {
			since = time.Time{}
			return fmt.Errorf("/lb names %s, B is %s", got, wsB.Host)
		}
		if since.IsZero() {
			since = time.Now()
		}
		if d := time.Since(since); d < lbSteady {
			return fmt.Errorf("B named for %v", d)
		}
		return nil
	})

	name := "e2e-" + randomHex(4)
	publisher := watchPublisher(t, c.RESTURLs[0], name)
	res := publishPlayPage(t, b, ctx, base, url.Values{"ws": {c.WSURLs[0]}, "lbUrl": {lbURL},
		"playWs": {c.WSURLs[0]}, "name": {name}})
	if res.ServerURL != c.WSURLs[1] {
		t.Errorf("the SDK connected to %q after the lookup, want node B's %q", res.ServerURL, c.WSURLs[1])
	}
	if res.PlayServerURL != c.WSURLs[0] {
		t.Errorf("the player's session connected to %q, want node A's %q", res.PlayServerURL, c.WSURLs[0])
	}
	pub := publisher()
	if pub.NodeID != c.Signals[1].NodeID() || pub.SessionID != res.AuthToken {
		t.Errorf("the publisher was on %q in session %q, want node B %q and the page's %q",
			pub.NodeID, pub.SessionID, c.Signals[1].NodeID(), res.AuthToken)
	}
}

// connectClient opens an idle wasmclient session on ws until the test ends.
func connectClient(t *testing.T, ws string) *wasmclient.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := wasmclient.Connect(ctx, ws, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatalf("connect %s: %v", ws, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// watchPublisher polls the REST API (stream/find by name, docs/protocol.md §G.2) in the background
// until the publisher of name shows up; the returned function waits for it (at most 30 s after
// the watch began) and returns it. It sees the stream while the page runs, before the page ends it.
func watchPublisher(t *testing.T, restURL, name string) func() rest.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	found := make(chan rest.Stream, 1)
	done := make(chan struct{})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	body := fmt.Sprintf(`{"name":%q,"published":true}`, name)
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var streams []rest.Stream
			if postJSON(ctx, client, restURL+"/rest-api/stream/find", body, &streams) == nil && len(streams) > 0 {
				found <- streams[0]
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() rest.Stream {
		t.Helper()
		select {
		case s := <-found:
			return s
		case <-done:
			select {
			case s := <-found:
				return s
			default:
			}
			t.Errorf("the REST API never showed a publisher of %s", name)
			return rest.Stream{}
		}
	}
}

func postJSON(ctx context.Context, client *http.Client, u, body string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// getJSON GETs u on a connection closed afterwards and decodes its 200 answer into v.
func getJSON(u string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// waitReady waits for a node's /ready to answer 200 (a signal node: NATS reachable and a media
// daemon alive, so a publish is placed).
func waitReady(t *testing.T, u string) {
	t.Helper()
	testwait.UntilOK(t, 30*time.Second, "GET "+u+" 200", func() error {
		var v any
		return getJSON(u, &v)
	})
}

// hostPorts turns URLs into their host:port.
func hostPorts(t *testing.T, urls []string) []string {
	t.Helper()
	var out []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u.Host)
	}
	return out
}

// --- the potok binary ---

// potokProc is a potok process started by the test; its JSON log (stderr) is kept, and the
// listener addresses it announces ("<what> listening" with addr).
type potokProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu    sync.Mutex
	lines []string
	addrs map[string]string
}

// startPotok builds cmd/potok into the test's temporary directory and runs it with args (env
// added to the test's environment) until the test ends: SIGTERM, then SIGKILL after 15 s.
func startPotok(t *testing.T, env []string, args ...string) *potokProc {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "potok")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/potok-media/potok/cmd/potok").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/potok: %v\n%s", err, out)
	}
	p := &potokProc{cmd: exec.Command(bin, append(args, "--log-level", "debug")...), done: make(chan struct{}),
		addrs: map[string]string{}}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.readLog(stderr)
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			t.Errorf("potok still running 15 s after SIGTERM")
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("potok log (last 60 lines):\n%s", p.tail(60))
		}
	})
	return p
}

func (p *potokProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var rec struct {
			Message string `json:"message"`
			Addr    string `json:"addr"`
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Addr != "" {
			p.addrs[rec.Message] = rec.Addr
		}
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// waitAddr waits for the log line "<what> listening" and returns its address.
func (p *potokProc) waitAddr(t *testing.T, message string) string {
	t.Helper()
	var addr string
	testwait.UntilOK(t, 30*time.Second, fmt.Sprintf("potok to log %q", message), func() error {
		p.mu.Lock()
		addr = p.addrs[message]
		p.mu.Unlock()
		if addr != "" {
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("potok exited (%v) before %q:\n%s", p.err, message, p.tail(40))
		default:
		}
		return fmt.Errorf("log so far:\n%s", p.tail(20))
	})
	return addr
}

// logged reports whether a log line's message is message.
func (p *potokProc) logged(message string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		var rec struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Message == message {
			return true
		}
	}
	return false
}

func (p *potokProc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}
