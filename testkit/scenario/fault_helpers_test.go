package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// natsProc is Debian's `nats-server -js` on a fixed loopback port and store directory, so that it
// can be killed and started again as the same server (same URL, same JetStream store).
type natsProc struct {
	bin, dir string
	port     int
	out      lockedBuffer
	cmd      *exec.Cmd
	done     chan struct{}
}

// newNATSProc picks a free port and a temporary store; start runs the server. The server is
// stopped when the test ends.
func newNATSProc(t *testing.T) *natsProc {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &natsProc{bin: tool(t, "nats-server"), dir: t.TempDir(), port: ln.Addr().(*net.TCPAddr).Port}
	_ = ln.Close()
	t.Cleanup(func() {
		if n.running() {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			<-n.done
		}
		if t.Failed() {
			t.Logf("nats-server output:\n%s", n.out.String())
		}
	})
	return n
}

func (n *natsProc) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsProc) running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// start runs the server and returns once it accepts TCP connections: from then on a client's
// reconnection can succeed.
func (n *natsProc) start(t *testing.T) time.Time {
	t.Helper()
	return n.run(t, "-js")
}

// startWithoutJetStream runs the server with JetStream off: NATS is back, the directory is not.
func (n *natsProc) startWithoutJetStream(t *testing.T) time.Time {
	t.Helper()
	return n.run(t)
}

func (n *natsProc) run(t *testing.T, flags ...string) time.Time {
	t.Helper()
	n.cmd = exec.Command(n.bin, append(flags, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-sd", n.dir)...)
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	n.done = done
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(n.cmd)
	var up time.Time
	testwait.UntilOK(t, stepTimeout, fmt.Sprintf("nats-server to listen on %d", n.port), func() error {
		if !n.running() {
			t.Fatalf("nats-server exited at start:\n%s", n.out.String())
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), time.Second)
		if err != nil {
			return err
		}
		up = time.Now()
		return c.Close()
	})
	return up
}

// kill is kill -9: no goodbye to the clients, nothing flushed. It returns when the kill was
// sent, before which no client can have lost the server.
func (n *natsProc) kill(t *testing.T) time.Time {
	t.Helper()
	at := time.Now()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill nats-server: %v", err)
	}
	<-n.done
	return at
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// procCluster is one `potok signal` and several `potok mediad` processes on an external
// nats-server, each with its HTTP endpoint (/ready, /metrics).
type procCluster struct {
	nats     *natsProc
	signal   *process
	sigHTTP  string // http://host:port of the signal process
	wsURL    string
	mediads  []*process
	mediadID []string
	mdHTTP   []string // http://host:port of each mediad process
}

// startProcCluster starts nats-server, mediads media daemons and a signal node; extra flags
// (e.g. --nats-grace) go to every potok process. It returns once a publish can be placed and
// every process is ready.
func startProcCluster(t *testing.T, mediads int, extra ...string) *procCluster {
	t.Helper()
	bin := potokBinary(t)
	c := &procCluster{nats: newNATSProc(t)}
	c.nats.start(t)
	for i := range mediads {
		id := fmt.Sprintf("mediad-%c", 'a'+i)
		args := append([]string{"--nats", c.nats.url(), "--mediad-node-id", id, "--media-ip", "127.0.0.1",
			"--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only",
			"--mediad-http-listen", "127.0.0.1:0"}, extra...)
		md := startProcess(t, bin, "mediad", args...)
		md.name = "potok mediad " + id
		c.mediads, c.mediadID = append(c.mediads, md), append(c.mediadID, id)
	}
	for _, md := range c.mediads {
		c.mdHTTP = append(c.mdHTTP, "http://"+md.waitAddr(t, "metrics listening"))
	}
	args := append([]string{"--nats", c.nats.url(), "--signal-node-id", "signal-a", "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0"}, extra...)
	c.signal = startProcess(t, bin, "signal", args...)
	c.wsURL = "ws://" + c.signal.waitAddr(t, "websocket listening")
	c.sigHTTP = "http://" + c.signal.waitAddr(t, "http listening")
	waitPublishable(t, c.wsURL, func() int { return c.peerConnections(t) })
	c.waitReady(t, http.StatusOK)
	return c
}

// httpURLs are the /ready bases of every process, named.
func (c *procCluster) httpURLs() map[string]string {
	m := map[string]string{c.signal.name: c.sigHTTP}
	for i, md := range c.mediads {
		m[md.name] = c.mdHTTP[i]
	}
	return m
}

// waitReady waits until /ready of every process answers code (200 or 503).
func (c *procCluster) waitReady(t *testing.T, code int) {
	t.Helper()
	for name, base := range c.httpURLs() {
		waitReadyCode(t, name, base, code)
	}
}

func waitReadyCode(t *testing.T, name, base string, code int) {
	t.Helper()
	testwait.UntilOK(t, stepTimeout, fmt.Sprintf("%s /ready %d", name, code), func() error {
		got, body, err := getReady(base)
		if err != nil {
			return err
		}
		if got != code {
			return fmt.Errorf("%d %s", got, body)
		}
		return nil
	})
}

// getReady GETs /ready and returns its status code and body.
func getReady(base string) (int, string, error) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodGet, base+"/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &v) != nil || v.Status == "" {
		return resp.StatusCode, string(body), errors.New("/ready body is not the expected JSON: " + string(body))
	}
	return resp.StatusCode, string(bytes.TrimSpace(body)), nil
}

// getHealth GETs /health: liveness, 200 whatever NATS does.
func getHealth(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatalf("/health: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (c *procCluster) peerConnections(t *testing.T) int {
	n := 0
	for i, md := range c.mediads {
		if md.alive() {
			n += c.mediadPeers(t, i)
		}
	}
	return n
}

func (c *procCluster) mediadPeers(t *testing.T, i int) int {
	return int(scrapeGauge(t, c.mdHTTP[i]+"/metrics", "potok_mediad_peer_connections"))
}

func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// publishWhenBack publishes name on s until an attempt reaches PUBLISHING, as a client retrying
// after a refusal would, and returns the stream and when it reached PUBLISHING. Every refusal
// must be FAILED "Control plane unavailable": that is what a new stream gets until the control
// plane is back (README "Control plane faults").
func publishWhenBack(t *testing.T, s *wasmclient.Session, name string) (*wasmclient.Stream, time.Time) {
	t.Helper()
	var st *wasmclient.Stream
	var infos []string
	testwait.UntilOK(t, stepTimeout, "a publish to be accepted", func() error {
		var err error
		st, err = s.Publish(ctx(t), syntheticOptions(t, name))
		if err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		_, err = st.WaitStatus(ctx(t), wcs.StatusPublishing)
		var se *wasmclient.StatusError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("publish %s: %v", name, err)
		}
		if err != nil {
			infos = append(infos, se.Info)
		}
		return err
	})
	t.Logf("publish of %s: %d refusals %v before PUBLISHING", name, len(infos), summarizeInfos(infos))
	onlyControlPlaneDown(t, "a publish", infos)
	return st, st.Timeline().Active
}

// onlyControlPlaneDown fails t unless every info is "Control plane unavailable".
func onlyControlPlaneDown(t *testing.T, what string, infos []string) {
	t.Helper()
	for _, info := range infos {
		if info != wcs.InfoControlPlaneDown {
			t.Errorf("%s while the control plane came back got FAILED %q, want only %q until it works",
				what, info, wcs.InfoControlPlaneDown)
			return
		}
	}
}

// playProbe plays name on s over and over, from a goroutine, until an attempt reaches PLAYING
// or the test's step timeout passes: it sees what a client retrying a play gets while the
// control plane comes back. wait returns the infos of the refused attempts, in order, and the
// playing stream (nil if none).
func playProbe(t *testing.T, s *wasmclient.Session, name string) (wait func() ([]string, *wasmclient.Stream)) {
	var infos []string
	var playing *wasmclient.Stream
	var failure error
	done := make(chan struct{})
	c := ctx(t)
	go func() {
		defer close(done)
		for c.Err() == nil {
			st, err := s.Play(c, wasmclient.PlayOptions{Name: name})
			if err != nil {
				failure = err
				return
			}
			_, err = st.WaitStatus(c, wcs.StatusPlaying)
			var se *wasmclient.StatusError
			switch {
			case err == nil:
				playing = st
				return
			case errors.As(err, &se):
				infos = append(infos, se.Info)
			default:
				failure = err
				return
			}
		}
	}()
	return func() ([]string, *wasmclient.Stream) {
		t.Helper()
		<-done
		if failure != nil {
			t.Fatalf("play probe of %s: %v", name, failure)
		}
		return infos, playing
	}
}

// refused publishes or plays name and expects FAILED with info at once.
func refused(t *testing.T, s *wasmclient.Session, publish bool, name, info string) {
	t.Helper()
	var st *wasmclient.Stream
	var err error
	if publish {
		st, err = s.Publish(ctx(t), syntheticOptions(t, name))
	} else {
		st, err = s.Play(ctx(t), wasmclient.PlayOptions{Name: name})
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	waitTerminal(t, st, wcs.StatusFailed, info)
}

// keepReceiving waits until every player has received at least 20 more video packets than now.
func keepReceiving(t *testing.T, what string, players ...*wasmclient.Stream) {
	t.Helper()
	for i, p := range players {
		before := p.ReceiveStats().VideoPackets
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets >= before+20 },
			"player %d keeps receiving %s (had %d video packets)", i, what, before)
	}
}

// stillLive checks that each stream is in its live status: nothing ended it.
func stillLive(t *testing.T, what string, streams ...*wasmclient.Stream) {
	t.Helper()
	for _, st := range streams {
		want := wcs.StatusPlaying
		if st.Published() {
			want = wcs.StatusPublishing
		}
		if s := st.Status(); s != want {
			t.Fatalf("%s: %s is %s %q, want %s", what, st.Name(), s, st.Info(), want)
		}
	}
}
