package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestSeparateProcesses runs the scenarios with `potok signal` and `potok mediad` as separate
// processes on one NATS server, then stops them with SIGTERM: clients get their terminal
// statuses and both processes exit 0.
func TestSeparateProcesses(t *testing.T) {
	nats, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()
	separateProcesses(t, nats.ClientURL())
}

// TestSeparateProcessesExternalNATS is the same against Debian's nats-server (an older release
// than the embedded one), as an operator running `nats-server -js` would deploy it.
func TestSeparateProcessesExternalNATS(t *testing.T) {
	separateProcesses(t, startNATSServer(t))
}

func separateProcesses(t *testing.T, natsURL string) {
	bin := potokBinary(t)
	md := startProcess(t, bin, "mediad", "--nats", natsURL, "--media-ip", "127.0.0.1",
		"--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only",
		"--mediad-http-listen", "127.0.0.1:0")
	metricsURL := "http://" + md.waitAddr(t, "metrics listening") + "/metrics"
	sig := startProcess(t, bin, "signal", "--nats", natsURL, "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0")
	wsURL := "ws://" + sig.waitAddr(t, "websocket listening")
	peerConnections := func(t *testing.T) int { return int(scrapeGauge(t, metricsURL, "potok_mediad_peer_connections")) }
	waitPublishable(t, wsURL, func() int { return peerConnections(t) })

	Run(t, Target{WSURL: wsURL, PeerConnections: peerConnections})

	// SIGTERM with a live publisher: it is told its stream ended and its socket closes.
	s, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := publishSynthetic(t, s, streamName("sigterm"), wcs.StatusPublishing)
	sig.terminate(t)
	if obj, err := pub.WaitStatus(ctx(t), wcs.StatusUnpublished, wcs.StatusFailed); err != nil {
		t.Fatalf("publisher on SIGTERM: %v", err)
	} else {
		t.Logf("publisher on SIGTERM: %s %q", obj.Status, obj.Info)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session still open after the signal process stopped")
	}
	waitPeerConnections(t, Target{PeerConnections: peerConnections}, 0)
	md.terminate(t)
}

// TestAllInOneProcess starts the default `potok` (embedded NATS, signal and mediad in one process),
// publishes and plays through it, and stops it with SIGTERM.
func TestAllInOneProcess(t *testing.T) {
	bin := potokBinary(t)
	p := startProcess(t, bin, "", "--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only")
	wsURL := "ws://" + p.waitAddr(t, "websocket listening")
	httpURL := "http://" + p.waitAddr(t, "http listening")
	waitPublishable(t, wsURL, func() int { return int(scrapeGauge(t, httpURL+"/metrics", "potok_mediad_peer_connections")) })
	name := streamName("aio")
	pub := publishSynthetic(t, connect(t, Target{WSURL: wsURL}), name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: wsURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the all-in-one")
	if v := scrapeGauge(t, httpURL+"/metrics", "potok_mediad_peer_connections"); v != 2 {
		t.Errorf("potok_mediad_peer_connections = %v with one publisher and one player, want 2", v)
	}
	// The process's REST API sees both of its streams (docs/protocol.md §G.2).
	resp, err := http.Get(httpURL + "/rest-api/stream/find_all")
	if err != nil {
		t.Fatal(err)
	}
	var streams []rest.Stream
	err = json.NewDecoder(resp.Body).Decode(&streams)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(streams) != 2 || streams[0].Name != name || streams[1].Name != name {
		t.Errorf("REST API stream/find_all: %d %+v %v, want the publisher and the player of %s", resp.StatusCode, streams, err, name)
	}
	appsCLI(t, bin, wsURL, httpURL)
	p.terminate(t)
	if _, err := pub.WaitStatus(ctx(t), wcs.StatusUnpublished, wcs.StatusFailed); err != nil {
		t.Fatalf("publisher after SIGTERM: %v", err)
	}
}

// appsCLI manages the process's applications with `potok apps` (README "Applications and REST
// hooks"): an app added by the CLI admits clients at once, one removed refuses them.
func appsCLI(t *testing.T, bin, wsURL, httpURL string) {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"apps", "--rest", httpURL}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("potok apps %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("add", "cliApp", "--url", rest.EchoURL, "--all-methods")
	if out := run("list"); !strings.Contains(out, "cliApp") || !strings.Contains(out, rest.DefaultApp) {
		t.Errorf("potok apps list after add:\n%s", out)
	}
	s, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{AppKey: "cliApp"})
	if err != nil {
		t.Fatalf("connect with the app potok apps added: %v", err)
	}
	_ = s.Close()
	run("remove", "cliApp")
	if _, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{AppKey: "cliApp"}); !errors.Is(err, wasmclient.ErrRejected) {
		t.Errorf("connect with the removed app: %v, want rejected", err)
	}
}

// startNATSServer runs `nats-server -js` on a free loopback port until the test ends.
func startNATSServer(t *testing.T) string {
	t.Helper()
	n := newNATSProc(t)
	n.start(t)
	return n.url()
}

// --- process helpers ---

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

func potokBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the potok binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "potok-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "potok")
		out, err := exec.Command("go", "build", "-o", buildPath, "github.com/potok-media/potok/cmd/potok").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

type process struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	addrs map[string]string
	done  chan struct{}
	err   error
}

// startProcess runs `potok sub args…` until the test ends. A signal tier starts with its TLS
// listeners off (WCS's 8443 and 8444 would collide between processes and tests) unless args turn
// them on, and every process gets its own state directory: nothing is written to the home of
// whoever runs the tests.
func startProcess(t *testing.T, bin, sub string, args ...string) *process {
	t.Helper()
	return startProcessEnv(t, []string{"STATE_DIRECTORY=" + t.TempDir()}, bin, sub, args...)
}

// startProcessEnv is startProcess with env added to the test's environment.
func startProcessEnv(t *testing.T, env []string, bin, sub string, args ...string) *process {
	t.Helper()
	if sub == "" || sub == "signal" {
		args = append([]string{"--wss-listen=", "--https-listen="}, args...) // flags given later win
	}
	if sub != "" {
		args = append([]string{sub}, args...)
	}
	if !slices.Contains(args, "--log-level") {
		args = append(args, "--log-level", "debug") // the tests read debug lines, and failures show them
	}
	p := &process{name: "potok " + sub, cmd: exec.Command(bin, args...), addrs: map[string]string{}, done: make(chan struct{})}
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
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s log (last 60 lines):\n%s", p.name, p.tail(60))
		}
	})
	return p
}

func (p *process) readLog(r io.Reader) {
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

// waitAddr waits for the log line announcing a listener and returns its address.
func (p *process) waitAddr(t *testing.T, message string) string {
	t.Helper()
	var addr string
	testwait.UntilOK(t, 30*time.Second, fmt.Sprintf("%s to log %q", p.name, message), func() error {
		p.mu.Lock()
		addr = p.addrs[message]
		p.mu.Unlock()
		if addr != "" {
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before %q:\n%s", p.name, p.err, message, p.tail(40))
		default:
		}
		return fmt.Errorf("log so far:\n%s", p.tail(40))
	})
	return addr
}

// terminate sends SIGTERM and expects a clean exit (status 0) within 15 s.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM:\n%s", p.name, p.err, p.tail(40))
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s still running 15 s after SIGTERM:\n%s", p.name, p.tail(40))
	}
}

// mark is where the log is now; linesSince(mark) are the lines logged after it.
func (p *process) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

func (p *process) linesSince(mark int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines[mark:])
}

func (p *process) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	from := max(0, len(p.lines)-n)
	return strings.Join(p.lines[from:], "\n")
}

// waitPublishable waits until a publish is placed on a mediad: the signal node learns the media
// daemons from the directory, which separate processes join in any order. A refused probe (a
// status error) is retried; any other failure ends the test. The probe's peer connection is gone
// when it returns, so the media daemon's gauge counts only what the caller starts.
func waitPublishable(t *testing.T, wsURL string, peerConnections func() int) {
	t.Helper()
	testwait.UntilOK(t, stepTimeout, "a publish to be placed on a media daemon", func() error {
		s, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st, err := s.Publish(ctx(t), syntheticOptions(t, streamName("probe")))
		if err != nil {
			t.Fatal(err)
		}
		_, werr := st.WaitStatus(ctx(t), wcs.StatusPublishing)
		var se *wasmclient.StatusError
		if werr != nil && !errors.As(werr, &se) {
			t.Fatalf("no publish possible: %v", werr)
		}
		return werr
	})
	waitPeerConnections(t, Target{PeerConnections: func(*testing.T) int { return peerConnections() }}, 0)
}

// scrapeGauge reads one metric from a Prometheus text endpoint: the sum of its series (a node's
// metrics carry its node label; potok_mediad_peer_connections has one series per state).
func scrapeGauge(t *testing.T, url, name string) float64 {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("metric %s: %q", name, line)
		}
		sum, found = sum+v, true
	}
	if !found {
		t.Fatalf("metric %s not exposed at %s", name, url)
	}
	return sum
}
