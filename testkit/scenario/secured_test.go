package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestSecuredCluster runs the scenarios on a cluster closed as the all-in-one process closes its
// exposed NATS: two signal nodes and two media daemons connect over TCP as the role users, each
// with only its role's permissions (bus.RolePermissions). A permission violation heard by any
// node fails the test, so every subject the tiers use is covered, including across nodes.
func TestSecuredCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{NATSAuth: true, Signals: 2, Mediads: 2})
	tg := Target{WSURL: c.WSURL, PeerConnections: func(*testing.T) int { return c.PeerConnections() }}
	Run(t, tg)

	t.Run("AcrossSignalNodes", func(t *testing.T) {
		name := streamName("across")
		pub := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
		player := play(t, connect(t, Target{WSURL: c.WSURLs[1]}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video across signal nodes")
		stop(t, pub, wcs.StatusUnpublished)
		waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	})
	t.Run("NothingLeftBehind", func(t *testing.T) { waitPeerConnections(t, tg, 0) })
	if v := c.PermissionViolations(); len(v) > 0 {
		t.Errorf("permission violations: %q", v)
	}
}

// TestSecuredProcesses is what an operator does: the all-in-one `potok --nats-listen` generates
// the credentials file (mode 0600, path logged, passwords never), a `potok mediad` and a
// `potok signal` join with the role URLs from it over TCP, a stream published on the separate
// signal node plays through the all-in-one's. A stranger is refused, and signal's credentials
// cannot forge mediad's events. After a restart of the all-in-one on the same port the file is
// reused: the separate nodes get back in with the passwords they have.
func TestSecuredProcesses(t *testing.T) {
	bin := potokBinary(t)
	credsPath := filepath.Join(t.TempDir(), "state", "nats-credentials.json")
	natsAddr := freeLoopbackAddr(t)
	allInOne := func() *process {
		return startProcess(t, bin, "", "--nats-listen", natsAddr, "--nats-listen-credentials", credsPath,
			"--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
			"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only")
	}
	aio := allInOne()
	aioWS := "ws://" + aio.waitAddr(t, "websocket listening")

	st, err := os.Stat(credsPath)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %04o, want 0600", st.Mode().Perm())
	}
	creds := readCredentials(t, credsPath)
	if want := "nats://mediad:" + creds.Mediad.Password + "@" + natsAddr; creds.Mediad.URL != want {
		t.Errorf("mediad URL %q, want %q", creds.Mediad.URL, want)
	}
	if !inLog(aio, credsPath) {
		t.Errorf("the all-in-one did not log the credentials path %s:\n%s", credsPath, aio.tail(20))
	}

	md := startProcess(t, bin, "mediad", "--nats", creds.Mediad.URL, "--media-ip", "127.0.0.1",
		"--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0")
	md.waitAddr(t, "metrics listening")
	sig := startProcess(t, bin, "signal", "--nats", creds.Signal.URL, "--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	sigWS := "ws://" + sig.waitAddr(t, "websocket listening")
	publishAcross := func(t *testing.T, label string) {
		t.Helper()
		waitPublishable(t, sigWS, func() int { return 0 })
		name := streamName(label)
		pub := publishWhenControlPlaneBack(t, connect(t, Target{WSURL: sigWS}), name)
		player := play(t, connect(t, Target{WSURL: aioWS}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video from the separate signal node's publisher")
		stop(t, pub, wcs.StatusUnpublished)
		waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	}
	publishAcross(t, "secured")

	natsURL := "nats://" + natsAddr
	if nc, err := nats.Connect(natsURL); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("a client without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	if nc, err := nats.Connect(natsURL, nats.UserInfo("mediad", "guess")); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("a wrong password: %v, want %v", err, nats.ErrAuthorization)
	}
	checkNoForgedEvents(t, creds)

	// Restart the all-in-one: same file, same passwords, the separate nodes reconnect.
	aio.terminate(t)
	aio = allInOne()
	aioWS = "ws://" + aio.waitAddr(t, "websocket listening")
	if again := readCredentials(t, credsPath); again.Signal.Password != creds.Signal.Password || again.Mediad.Password != creds.Mediad.Password {
		t.Error("the restarted all-in-one did not reuse the credentials file")
	}
	publishAcross(t, "restarted")

	for _, p := range []*process{aio, md, sig} {
		for _, secret := range []string{creds.Signal.Password, creds.Mediad.Password} {
			if inLog(p, secret) {
				t.Errorf("%s logged a password", p.name)
			}
		}
		if inLog(p, "Permissions Violation") {
			t.Errorf("%s hit a permission violation:\n%s", p.name, p.tail(40))
		}
	}
	sig.terminate(t)
	md.terminate(t)
	aio.terminate(t)
}

// TestSecuredExternalNATS runs Debian's nats-server (2.9) with the README's sample configuration
// (bus.NATSServerConfig): the tiers join with their users, one by URL, one by --nats-user and
// --nats-password, publish and play without a permission violation, and the server enforces the
// same permissions as the embedded one.
func TestSecuredExternalNATS(t *testing.T) {
	bin := potokBinary(t)
	natsAddr := freeLoopbackAddr(t)
	creds, err := bus.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if err := creds.SetURLs("nats://" + natsAddr); err != nil {
		t.Fatal(err)
	}
	runSecuredNATSServer(t, natsAddr, creds)

	md := startProcess(t, bin, "mediad", "--nats", creds.Mediad.URL, "--media-ip", "127.0.0.1",
		"--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0")
	metricsURL := "http://" + md.waitAddr(t, "metrics listening") + "/metrics"
	sig := startProcess(t, bin, "signal", "--nats", "nats://"+natsAddr, "--nats-user", creds.Signal.User,
		"--nats-password", creds.Signal.Password, "--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	wsURL := "ws://" + sig.waitAddr(t, "websocket listening")
	peerConnections := func(t *testing.T) int { return int(scrapeGauge(t, metricsURL, "potok_mediad_peer_connections")) }
	waitPublishable(t, wsURL, func() int { return peerConnections(t) })
	name := streamName("external")
	pub := publishSynthetic(t, connect(t, Target{WSURL: wsURL}), name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: wsURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through a secured nats-server")
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)

	if nc, err := nats.Connect("nats://" + natsAddr); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("a client without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	checkNoForgedEvents(t, creds)
	time.Sleep(time.Second) // a late violation (a heartbeat, a watch) is logged within it
	for _, p := range []*process{md, sig} {
		if inLog(p, "Permissions Violation") {
			t.Errorf("%s hit a permission violation:\n%s", p.name, p.tail(40))
		}
	}
	sig.terminate(t)
	md.terminate(t)
}

// checkNoForgedEvents: a client with signal's credentials publishes a MediaEvent on a signal
// node's events subject, which only mediads may do. A listener with signal's credentials (the
// victim) never gets it; the forger's asynchronous error handler hears a permissions violation.
func checkNoForgedEvents(t *testing.T, creds *bus.Credentials) {
	t.Helper()
	subject := control.SignalEventsSubject("victim")
	victim, err := nats.Connect(creds.Signal.URL, nats.CustomInboxPrefix(bus.RoleSignal.InboxPrefix()))
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	got := make(chan *nats.Msg, 1)
	sub, err := victim.ChanSubscribe(subject, got)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	violation := make(chan error, 4)
	forger, err := nats.Connect(creds.Signal.URL, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		violation <- err
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	body, _ := json.Marshal(control.MediaEvent{Owner: control.Owner{SignalNode: "victim"}, Kind: control.EventState,
		State: control.StateClosed, Info: "forged"})
	if err := forger.Publish(subject, body); err != nil {
		t.Fatal(err)
	}
	_ = forger.Flush()
	select {
	case err := <-violation:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
			t.Errorf("forger heard %v, want a permissions violation for %s", err, subject)
		}
	case <-time.After(5 * time.Second):
		t.Error("forger heard no permissions violation")
	}
	select {
	case m := <-got:
		t.Errorf("the victim got a forged event: %s", m.Data)
	case <-time.After(300 * time.Millisecond):
	}
}

// runSecuredNATSServer runs `nats-server -c` with bus.NATSServerConfig until the test ends.
func runSecuredNATSServer(t *testing.T, addr string, creds *bus.Credentials) {
	t.Helper()
	bin := tool(t, "nats-server")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats-server.conf")
	if err := os.WriteFile(conf, []byte(bus.NATSServerConfig(addr, filepath.Join(dir, "jetstream"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Env = append(os.Environ(), "SIGNAL_PASSWORD="+creds.Signal.Password, "MEDIAD_PASSWORD="+creds.Mediad.Password)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if t.Failed() {
			t.Logf("nats-server output:\n%s", out.String())
		}
	})
	testwait.UntilOK(t, stepTimeout, "nats-server to listen on "+addr, func() error {
		select {
		case <-done:
			t.Fatalf("nats-server exited:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readCredentials(t *testing.T, path string) *bus.Credentials {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c bus.Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	return &c
}

// freeLoopbackAddr is a 127.0.0.1 port free right now, for a server that must come back on it.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// inLog reports whether any log line of the process contains s.
func inLog(p *process, s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// publishWhenControlPlaneBack publishes name, trying again while the answer is "Control plane
// unavailable": after a NATS restart that is the documented answer until every node it needs —
// the media daemon placement picks included — has reconnected and re-asserted itself (README
// "Control plane faults"); a probe that worked through one daemon says nothing of the other.
func publishWhenControlPlaneBack(t *testing.T, s *wasmclient.Session, name string) *wasmclient.Stream {
	t.Helper()
	var pub *wasmclient.Stream
	testwait.UntilOK(t, 15*time.Second, "a publish after the restart", func() error {
		st, err := s.Publish(ctx(t), syntheticOptions(t, name))
		if err != nil {
			return err
		}
		obj, err := st.WaitStatus(ctx(t), wcs.StatusPublishing, wcs.StatusFailed)
		switch {
		case err != nil:
			return err
		case obj.Status == wcs.StatusPublishing:
			pub = st
			return nil
		case obj.Info == wcs.InfoControlPlaneDown:
			return fmt.Errorf("publish %s: %s", name, obj.Info)
		}
		t.Fatalf("publish %s: %s %q", name, obj.Status, obj.Info)
		return nil
	})
	return pub
}
