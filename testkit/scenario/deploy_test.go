package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/testkit/nginx"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// duplicateRounds is how many times two signal nodes race to publish the same name.
const duplicateRounds = 100

// TestDeployLoadBalanced runs the deployment of README "Load-balanced deployment" as real
// processes on loopback: three nats-server as one JetStream cluster closed with the shipped
// users and permissions (deploy/nats/nats-authorization.conf), two `potok mediad` and two
// `potok signal` on it with R3 file buckets, and Debian's nginx in front of the signal nodes
// running the shipped deploy/nginx/potok.conf (only its site part, potok.d/, is the test's).
// A stream published through signal A plays through signal B and through nginx; the REST API and
// the statistics page answer through nginx; in 100 rounds of a concurrent publish of one name on
// both signal nodes exactly one wins and the other fails "Stream name is already in use"; with
// signal B stopped nginx sends every client to A.
func TestDeployLoadBalanced(t *testing.T) {
	start := time.Now()
	bin := potokBinary(t)
	deploy := deployDir(t)
	creds, err := bus.GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	nc3 := startSecuredNATSCluster(t, tool(t, "nats-server"), deploy, creds)

	common := []string{"--nats", nc3.urls(), "--nats-kv-storage", "file", "--nats-kv-replicas", "3",
		"--wss-listen", "", "--https-listen", ""}
	var mds []*process
	var mdMetrics []string
	for _, id := range []string{"mediad-a", "mediad-b"} {
		md := startProcess(t, bin, "mediad", append([]string{"--mediad-node-id", id, "--nats-user", creds.Mediad.User,
			"--nats-password", creds.Mediad.Password, "--media-ip", "127.0.0.1", "--media-udp-port", "0",
			"--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0"}, common...)...)
		md.name = "potok mediad " + id
		mds = append(mds, md)
	}
	for _, md := range mds {
		mdMetrics = append(mdMetrics, "http://"+md.waitAddr(t, "metrics listening")+"/metrics")
	}
	type signalNode struct {
		p                *process
		ws, http, wsAddr string
		httpAddr         string
	}
	// Both signal nodes start at once, as a fleet does: they race to create and seed the R3
	// application registry (potok_apps) on the fresh cluster, and neither may lose (one exited,
	// "stream not found" or "no response from stream", before internal/bus retried them).
	var sigs []*signalNode
	for _, id := range []string{"signal-a", "signal-b"} {
		p := startProcess(t, bin, "signal", append([]string{"--signal-node-id", id, "--nats-user", creds.Signal.User,
			"--nats-password", creds.Signal.Password, "--max-sessions-per-ip", "0", "--ws-listen", "127.0.0.1:0",
			"--http-listen", "127.0.0.1:0"},
			common...)...)
		p.name = "potok signal " + id
		sigs = append(sigs, &signalNode{p: p})
	}
	for _, s := range sigs {
		s.wsAddr, s.httpAddr = s.p.waitAddr(t, "websocket listening"), s.p.waitAddr(t, "http listening")
		s.ws, s.http = "ws://"+s.wsAddr, "http://"+s.httpAddr
	}
	peerConnections := func(t *testing.T) int {
		n := 0
		for _, m := range mdMetrics {
			n += int(scrapeGauge(t, m, "potok_mediad_peer_connections"))
		}
		return n
	}
	for _, s := range sigs {
		waitPublishable(t, s.ws, func() int { return peerConnections(t) })
	}
	lb := nginx.Start(t, nginx.Options{Deploy: deploy, WS: []string{sigs[0].wsAddr, sigs[1].wsAddr},
		HTTP: []string{sigs[0].httpAddr, sigs[1].httpAddr}})
	t.Logf("3 nats-server, 2 mediad, 2 signal and nginx up in %v", time.Since(start).Round(time.Millisecond))

	// The directory is replicated on all three servers.
	checkReplicated(t, nc3.client(t, creds))

	tgA, tgB, tgLB := Target{WSURL: sigs[0].ws}, Target{WSURL: sigs[1].ws}, Target{WSURL: lb.WS}
	t.Run("PublishOnAPlayOnBAndThroughNginx", func(t *testing.T) {
		name := streamName("lb")
		pub := publishSynthetic(t, connect(t, tgA), name, wcs.StatusPublishing)
		onB := play(t, connect(t, tgB), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		viaLB := play(t, connect(t, tgLB), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		for what, p := range map[string]*wasmclient.Stream{"signal B": onB, "nginx": viaLB} {
			waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool {
				return rs.Keyframes >= 1 && rs.VideoPackets >= 30 && rs.AudioPackets >= 10
			}, "player through %s: a key frame, 30 video and 10 audio packets", what)
		}

		// The REST API through nginx sees the publisher and both players, whichever node answers.
		for range 4 {
			var streams []rest.Stream
			if code := lbGet(t, lb.HTTP+"/rest-api/stream/find_all", &streams); code != http.StatusOK || len(streams) != 3 {
				t.Fatalf("REST stream/find_all through nginx: %d %+v, want the publisher and two players of %s", code, streams, name)
			}
			for _, s := range streams {
				if s.Name != name {
					t.Fatalf("REST stream/find_all through nginx: stream %q, want %q", s.Name, name)
				}
			}
		}
		if code := lbGet(t, lb.HTTP+"/?action=stat", nil); code != http.StatusOK {
			t.Errorf("statistics page through nginx: %d", code)
		}
		if code := lbGet(t, lb.HTTP+"/ready", nil); code != http.StatusOK {
			t.Errorf("/ready through nginx: %d", code)
		}
		if code := lbGet(t, lb.HTTP+"/metrics", nil); code != http.StatusNotFound {
			t.Errorf("/metrics through nginx: %d, want 404 (scraped on each node)", code)
		}

		stop(t, pub, wcs.StatusUnpublished)
		waitTerminal(t, onB, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
		waitTerminal(t, viaLB, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	})

	t.Run("NginxSpreadsWebSockets", func(t *testing.T) {
		before := []float64{scrapeGauge(t, sigs[0].http+"/metrics", "potok_signal_ws_connections"),
			scrapeGauge(t, sigs[1].http+"/metrics", "potok_signal_ws_connections")}
		var sessions []*wasmclient.Session
		for range 4 {
			sessions = append(sessions, connect(t, tgLB))
		}
		// least_conn: four sockets held open at once are two per node (on top of what each had).
		testwait.UntilOK(t, stepTimeout, "two new WebSockets per signal node", func() error {
			for i, s := range sigs {
				if got := scrapeGauge(t, s.http+"/metrics", "potok_signal_ws_connections") - before[i]; got != 2 {
					return fmt.Errorf("%s: %v new WebSockets", s.p.name, got)
				}
			}
			return nil
		})
		for _, s := range sessions {
			_ = s.Close()
		}
	})

	t.Run("DuplicatePublishRace", func(t *testing.T) {
		raceStart := time.Now()
		const lanes = 4 // rounds run four at a time, each on its own pair of sessions
		rounds := make(chan int, duplicateRounds)
		for i := range duplicateRounds {
			rounds <- i
		}
		close(rounds)
		var mu sync.Mutex
		wins := map[string]int{}
		var wg sync.WaitGroup
		for range lanes {
			a, b := connect(t, tgA), connect(t, tgB)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					winner, err := duplicateRound(a, b, streamName(fmt.Sprintf("race-%d", r)))
					if err != nil {
						t.Errorf("round %d: %v", r, err)
						return
					}
					mu.Lock()
					wins[winner]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		t.Logf("%d rounds of a duplicate publish on both signal nodes in %v: one winner each, wins %v",
			duplicateRounds, time.Since(raceStart).Round(time.Millisecond), wins)
	})

	t.Run("NginxSkipsAStoppedNode", func(t *testing.T) {
		sigs[1].p.terminate(t)
		// Every new client lands on signal A: a refused connection to B is retried on A
		// (proxy_next_upstream), then B is left out for fail_timeout.
		for i := range 4 {
			s, err := wasmclient.Connect(ctx(t), lb.WS, wasmclient.SessionOptions{})
			if err != nil {
				t.Fatalf("connect %d through nginx with signal B stopped: %v", i, err)
			}
			_ = s.Close()
		}
		name := streamName("lb-one")
		pub := publishSynthetic(t, connect(t, tgLB), name, wcs.StatusPublishing)
		player := play(t, connect(t, tgLB), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 },
			"video through nginx with signal B stopped")
		var streams []rest.Stream
		if code := lbGet(t, lb.HTTP+"/rest-api/stream/find_all", &streams); code != http.StatusOK || len(streams) != 2 {
			t.Errorf("REST stream/find_all through nginx with signal B stopped: %d %+v", code, streams)
		}
		stop(t, pub, wcs.StatusUnpublished)
		waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	})

	waitPeerConnections(t, Target{PeerConnections: peerConnections}, 0)
	for _, p := range append([]*process{sigs[0].p, sigs[1].p}, mds...) {
		if inLog(p, "Permissions Violation") {
			t.Errorf("%s hit a permission violation:\n%s", p.name, p.tail(40))
		}
	}
	lb.Stop(t)
	sigs[0].p.terminate(t)
	for _, md := range mds {
		md.terminate(t)
	}
	t.Logf("TestDeployLoadBalanced took %v", time.Since(start).Round(time.Millisecond))
}

// duplicateRound publishes name on a and b at the same moment. Exactly one must reach PUBLISHING
// and the other end FAILED "Stream name is already in use"; the winner then unpublishes. It
// returns which session won ("A" or "B").
func duplicateRound(a, b *wasmclient.Session, name string) (string, error) {
	c, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	type result struct {
		st  *wasmclient.Stream
		obj wcs.Stream
		err error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, s := range []*wasmclient.Session{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts, err := raceOptions(name)
			if err != nil {
				results[i].err = err
				return
			}
			st, err := s.Publish(c, opts)
			if err != nil {
				results[i].err = fmt.Errorf("publish: %w", err)
				return
			}
			obj, err := st.WaitStatus(c, wcs.StatusPublishing)
			results[i] = result{st: st, obj: obj, err: err}
		}()
	}
	wg.Wait()
	var winners []int
	for i, r := range results {
		var se *wasmclient.StatusError
		switch {
		case r.err == nil:
			winners = append(winners, i)
		case errors.As(r.err, &se) && se.Status == wcs.StatusFailed && se.Info == wcs.InfoStreamNameAlreadyInUse:
		default:
			return "", fmt.Errorf("publish on signal %c: %v (%s %q)", 'A'+i, r.err, r.obj.Status, r.obj.Info)
		}
	}
	if len(winners) != 1 {
		return "", fmt.Errorf("%d publishers of %s reached PUBLISHING, want exactly one", len(winners), name)
	}
	w := results[winners[0]].st
	if err := w.Stop(c); err != nil {
		return "", fmt.Errorf("unpublish the winner: %w", err)
	}
	if s := w.Status(); s != wcs.StatusUnpublished {
		return "", fmt.Errorf("the winner after unpublish: %s %q", s, w.Info())
	}
	return string(rune('A' + winners[0])), nil
}

// raceOptions is syntheticOptions without a *testing.T, for the goroutines of a round.
func raceOptions(name string) (wasmclient.PublishOptions, error) {
	video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240, Bitrate: 300_000})
	if err != nil {
		return wasmclient.PublishOptions{}, err
	}
	return wasmclient.PublishOptions{Name: name, Video: video, Audio: media.NewSilentOpus(0)}, nil
}

// deployDir is the repository's deploy/ directory.
func deployDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "nginx", "potok.conf")); err != nil {
		t.Fatalf("deploy/nginx/potok.conf: %v", err)
	}
	return d
}

// lbGet GETs url and decodes a JSON body into v (when not nil); it returns the status code.
func lbGet(t *testing.T, url string, v any) int {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %q", url, err, body)
		}
	}
	return resp.StatusCode
}

// --- the NATS cluster of the deployment ---

// startSecuredNATSCluster is startNATSCluster with the shipped users and permissions: each
// server's configuration includes deploy/nats/nats-authorization.conf (linked beside it, as
// nats-server 2.9 resolves an include relative to the including file) and gets the passwords
// from its environment, as deploy/systemd's drop-in gives them (TestDeployNATSAuthorization
// keeps the shipped file equal to bus.RolePermissions).
func startSecuredNATSCluster(t *testing.T, bin, deploy string, creds *bus.Credentials) *securedNATSCluster {
	t.Helper()
	authz := filepath.Join(deploy, "nats", "nats-authorization.conf")
	ports := freePorts(t, 9)
	c := &securedNATSCluster{natsCluster: &natsCluster{bin: bin},
		env: append(os.Environ(), "SIGNAL_PASSWORD="+creds.Signal.Password, "MEDIAD_PASSWORD="+creds.Mediad.Password)}
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	dir := t.TempDir()
	if err := os.Symlink(authz, filepath.Join(dir, "nats-authorization.conf")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		n := &natsClusterNode{name: fmt.Sprintf("n%d", i+1), clientPort: ports[3*i], clusterPort: ports[3*i+1], mPort: ports[3*i+2]}
		n.conf = filepath.Join(dir, n.name+".conf")
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream {
  store_dir: %q
  max_memory_store: 64MB
  max_file_store: 256MB
}
cluster {
  name: potok-deploy-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
include nats-authorization.conf
`, n.name, n.clientPort, n.mPort, filepath.Join(dir, n.name), n.clusterPort, strings.Join(routes, ", "))
		if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		cmd := exec.Command(bin, "-c", n.conf)
		cmd.Env = c.env
		w := lockedWriter{n}
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		n.mu.Lock()
		n.cmd, n.done = cmd, done
		n.mu.Unlock()
	}
	t.Cleanup(func() {
		// SIGTERM all three, then wait: a server stopped alone would wait for the others.
		for _, n := range c.nodes {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, n := range c.nodes {
			select {
			case <-n.done:
			case <-time.After(10 * time.Second):
				_ = n.cmd.Process.Kill()
				<-n.done
			}
			if t.Failed() {
				t.Logf("nats-server %s output (last 4 kB):\n%s", n.name, lastBytes(n.output(), 4096))
			}
		}
	})
	for i := range c.nodes {
		c.waitHealthy(t, i)
	}
	return c
}

type securedNATSCluster struct {
	*natsCluster
	env []string
}

// client connects the test as the signal user (whose permissions cover the bucket status that
// checkReplicated reads) and waits until JetStream answers.
func (c *securedNATSCluster) client(t *testing.T, creds *bus.Credentials) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.urls(), nats.UserInfo(creds.Signal.User, creds.Signal.Password),
		nats.CustomInboxPrefix(bus.RoleSignal.InboxPrefix()), nats.Name("potok-deploy-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	testwait.UntilOK(t, stepTimeout, "a JetStream meta leader", func() error {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(c)
		return err
	})
	return js
}

// TestDeployNATSAuthorization: the shipped deploy/nats/nats-authorization.conf is the
// authorization block of bus.NATSServerConfig (bus.RolePermissions), under its comment lines.
// POTOK_UPDATE_DEPLOY=1 rewrites it from there.
func TestDeployNATSAuthorization(t *testing.T) {
	path := filepath.Join(deployDir(t), "nats", "nats-authorization.conf")
	shipped, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := bus.NATSServerConfig("127.0.0.1:4222", "/var/lib/nats")
	want = want[strings.Index(want, "authorization {"):]
	body := stripConfComments(string(shipped))
	if body == want {
		return
	}
	if os.Getenv("POTOK_UPDATE_DEPLOY") != "" {
		if err := os.WriteFile(path, []byte(string(shipped[:len(shipped)-len(body)])+want), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s from bus.NATSServerConfig", path)
		return
	}
	t.Errorf("deploy/nats/nats-authorization.conf is not bus.RolePermissions: run "+
		"POTOK_UPDATE_DEPLOY=1 go test -run TestDeployNATSAuthorization ./testkit/scenario/ (want:\n%s)", want)
}

// stripConfComments drops the leading comment lines of a configuration file.
func stripConfComments(s string) string {
	for strings.HasPrefix(s, "#") {
		_, s, _ = strings.Cut(s, "\n")
	}
	return s
}

// TestDeployLocalScript runs the shipped deploy/local/potok-cluster.sh: `up` starts the same
// topology as plain processes and returns once nginx answers; a stream published through nginx
// plays through signal B directly; `down` stops every process it started with SIGTERM.
func TestDeployLocalScript(t *testing.T) {
	start := time.Now()
	bin := potokBinary(t)
	tool(t, "nats-server")
	tool(t, "curl")
	script := filepath.Join(deployDir(t), "local", "potok-cluster.sh")
	dir := filepath.Join(t.TempDir(), "cluster")
	base := freePortBase(t, []int{1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 41, 42, 51, 52, 61, 62, 80, 81})
	run := func(args ...string) string {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, "bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "POTOK_BIN="+bin, "NGINX="+nginx.Binary(t), fmt.Sprintf("PORT_BASE=%d", base))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("potok-cluster.sh %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	var down sync.Once
	stopAll := func() { down.Do(func() { run("down", dir) }) }
	t.Cleanup(func() {
		stopAll()
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s (last 2 kB):\n%s", filepath.Base(l), lastBytes(string(b), 2048))
			}
		}
	})
	t.Logf("potok-cluster.sh up:\n%s", run("up", dir))
	up := time.Since(start)

	lbWS, sigB := fmt.Sprintf("ws://127.0.0.1:%d", base+80), fmt.Sprintf("ws://127.0.0.1:%d", base+32)
	name := streamName("local")
	pub := publishSynthetic(t, connect(t, Target{WSURL: lbWS}), name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: sigB}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 },
		"video on signal B from a publisher that came through nginx")
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)

	pids, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	if len(pids) != 8 {
		t.Errorf("%d pid files, want 8 (3 NATS, 2 mediad, 2 signal, nginx): %v", len(pids), pids)
	}
	var running []int
	for _, f := range pids {
		b, _ := os.ReadFile(f)
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err == nil {
			running = append(running, pid)
		}
	}
	stopAll()
	for _, pid := range running {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("pid %d still running after potok-cluster.sh down", pid)
		}
	}
	for _, l := range []string{"signal-a", "signal-b", "mediad-a", "mediad-b"} {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", l+".log"))
		if strings.Contains(string(b), "Permissions Violation") {
			t.Errorf("%s hit a permission violation", l)
		}
	}
	t.Logf("up in %v, whole test %v", up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// freePortBase finds a base port at which base+offset is free for TCP and UDP on 127.0.0.1 for
// every offset (the script's fixed layout).
func freePortBase(t *testing.T, offsets []int) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		base := p - p%100
		if base < 1024 || base+100 > 65535 {
			continue
		}
		ok := true
		for _, o := range offsets {
			addr := fmt.Sprintf("127.0.0.1:%d", base+o)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				break
			}
			_ = l.Close()
			u, err := net.ListenPacket("udp", addr)
			if err != nil {
				ok = false
				break
			}
			_ = u.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range for potok-cluster.sh")
	return 0
}
