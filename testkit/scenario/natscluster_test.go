package scenario

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// outageHold is how long each server stays down: longer than a media daemon may stay silent
// before signal declares it down, plus a margin for the sweep, so a heartbeat gap caused by the
// failover would be noticed within the outage.
const outageHold = control.NodeDownAfter + 2*time.Second

// TestNATSClusterFailover runs `potok signal` and two `potok mediad` on a three-server JetStream
// cluster (Debian's nats-server) with the directory in R3 file buckets, and kills each server in
// turn with SIGKILL under traffic, bringing the previous one back first. So every potok process
// loses the server it is connected to, and each bucket the leader of its Raft group, at least
// once (checked). Nothing may be noticed by live streams: no stream or session status changes,
// packets keep flowing, the claims made before a kill still hold (the same name is refused), and
// no node is declared down or gone on either side. A new publish and play work during the
// outage; while a bucket elects a new leader, a publish may only be refused with the retryable
// "Control plane unavailable".
func TestNATSClusterFailover(t *testing.T) {
	bin := potokBinary(t)
	nc3 := startNATSCluster(t, tool(t, "nats-server"))
	js := nc3.client(t)

	common := []string{"--nats", nc3.urls(), "--nats-kv-storage", "file", "--nats-kv-replicas", "3"}
	mediadArgs := func(id string) []string {
		return append([]string{"--mediad-node-id", id, "--media-ip", "127.0.0.1", "--media-udp-port", "0",
			"--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0"}, common...)
	}
	mds := []*process{startProcess(t, bin, "mediad", mediadArgs("md-1")...), startProcess(t, bin, "mediad", mediadArgs("md-2")...)}
	var metrics []string
	readiness := map[string]*readyWatch{}
	for i, md := range mds {
		base := "http://" + md.waitAddr(t, "metrics listening")
		metrics = append(metrics, base+"/metrics")
		readiness[fmt.Sprintf("mediad md-%d", i+1)] = watchReady(t, base+"/ready")
	}
	sig := startProcess(t, bin, "signal", append([]string{"--signal-node-id", "sig-1", "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0"}, common...)...)
	readiness["signal"] = watchReady(t, "http://"+sig.waitAddr(t, "http listening")+"/ready")
	procs := map[string]*process{"signal": sig, "mediad md-1": mds[0], "mediad md-2": mds[1]}
	tg := Target{WSURL: "ws://" + sig.waitAddr(t, "websocket listening"), PeerConnections: func(t *testing.T) int {
		n := 0
		for _, m := range metrics {
			n += int(scrapeGauge(t, m, "potok_mediad_peer_connections"))
		}
		return n
	}}
	waitPublishable(t, tg.WSURL, func() int { return tg.PeerConnections(t) })
	checkReplicated(t, js)

	// Traffic: two publishers (one per media daemon: placement goes to the least loaded) and a
	// player of each, all on sessions that must live through every kill.
	var watched []*watchedStream
	pubs := make([]*wasmclient.Stream, 2)
	players := make([]*wasmclient.Stream, 2)
	sessions := []*wasmclient.Session{connect(t, tg), connect(t, tg), connect(t, tg)}
	for i := range pubs {
		pubs[i] = publishSynthetic(t, sessions[i], streamName(fmt.Sprintf("r3-%d", i)), wcs.StatusPublishing)
		players[i] = play(t, sessions[2], wasmclient.PlayOptions{Name: pubs[i].Name()}, wcs.StatusPlaying)
		watched = append(watched, watchStream(t, pubs[i]), watchStream(t, players[i]))
	}
	for i, p := range players {
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.Keyframes >= 1 && rs.VideoPackets > 30 },
			"player %d: a key frame and 30 video packets before any kill", i)
	}

	probe := startKVProbe(t, js)
	var back time.Time
	lostServer, lostLeader := map[string]bool{}, map[string]bool{}
	for k := range nc3.nodes {
		if k > 0 {
			nc3.restart(t, k-1)
			nc3.waitCurrent(t, js, k-1)
			// One fault at a time: every process has its directory back before the next kill.
			waitAllReady(t, readiness)
		}
		var on []string
		for name, p := range procs {
			if nc3.connectedTo(p.cmd.Process.Pid) == k {
				on = append(on, name)
			}
		}
		slices.Sort(on)
		leaders := nc3.leaders(t, js)
		for _, name := range on {
			lostServer[name] = true
		}
		for _, b := range leaders[nc3.nodes[k].name] {
			lostLeader[b] = true
		}
		before := make([]uint64, len(players))
		for i, p := range players {
			before[i] = p.ReceiveStats().VideoPackets
		}

		killed := time.Now()
		nc3.kill(t, k)

		// A publish from the moment of the kill. While a bucket that lost its leader elects
		// another, the directory cannot be written; a publish is refused then, with the
		// retryable "Control plane unavailable" and nothing else, and works again after.
		during, refused := publishThroughFailover(t, tg, streamName(fmt.Sprintf("during-%d", k)))
		publishedAfter := time.Since(killed)
		duringPlayer := play(t, connect(t, tg), wasmclient.PlayOptions{Name: during.Name()}, wcs.StatusPlaying)
		waitReceived(t, duringPlayer, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 },
			"video to the player started while %s is down", nc3.nodes[k].name)
		// The names claimed before the kill are still claimed.
		for _, p := range pubs {
			dup, err := connect(t, tg).Publish(ctx(t), syntheticOptions(t, p.Name()))
			if err != nil {
				t.Fatalf("duplicate publish of %s: %v", p.Name(), err)
			}
			waitTerminal(t, dup, wcs.StatusFailed, wcs.InfoStreamNameAlreadyInUse)
		}
		stop(t, during, wcs.StatusUnpublished)
		waitTerminal(t, duringPlayer, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)

		// Stay down for longer than a silent media daemon is tolerated, and until both buckets
		// take writes again; then a publish and a play work at the first attempt.
		back = probe.waitWritable(t, killed)
		time.Sleep(time.Until(killed.Add(outageHold)))
		after := publishSynthetic(t, connect(t, tg), streamName(fmt.Sprintf("after-%d", k)), wcs.StatusPublishing)
		afterPlayer := play(t, connect(t, tg), wasmclient.PlayOptions{Name: after.Name()}, wcs.StatusPlaying)
		stop(t, after, wcs.StatusUnpublished)
		waitTerminal(t, afterPlayer, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
		for i, p := range players {
			waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before[i]+100 },
				"player %d: 100 more video packets across the kill of %s", i, nc3.nodes[k].name)
		}
		checkUnnoticed(t, watched, sessions, sig, mds)

		nodes, streams := probe.longestFailure(killed, control.BucketNodes), probe.longestFailure(killed, control.BucketStreams)
		t.Logf("killed %s (leader of %s; connected: %s): probe writes failed for %v (nodes) / %v (streams); "+
			"a publish started at the kill was refused %d times and PUBLISHING %v after it",
			nc3.nodes[k].name, orNone(leaders[nc3.nodes[k].name]), orNone(on), nodes.Round(time.Millisecond),
			streams.Round(time.Millisecond), refused, publishedAfter.Round(time.Millisecond))
		for _, name := range slices.Sorted(maps.Keys(readiness)) {
			if spells := readiness[name].notReadySince(killed); len(spells) > 0 {
				t.Logf("  %s /ready: %s", name, strings.Join(spells, "; "))
			}
		}
	}
	nc3.restart(t, len(nc3.nodes)-1)
	nc3.waitCurrent(t, js, len(nc3.nodes)-1)
	for name := range procs {
		if !lostServer[name] {
			t.Errorf("%s never lost its server", name)
		}
	}
	for _, b := range directoryBuckets {
		if !lostLeader[b] {
			t.Errorf("bucket %s never lost its leader", b)
		}
	}
	// A media daemon wrongly found silent would be declared down NodeDownAfter after the
	// directory came back.
	time.Sleep(time.Until(back.Add(control.NodeDownAfter + time.Second)))
	probe.stop()
	checkUnnoticed(t, watched, sessions, sig, mds)

	// Everything still ends the normal way.
	for i, p := range pubs {
		stop(t, p, wcs.StatusUnpublished)
		waitTerminal(t, players[i], wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	}
	waitPeerConnections(t, tg, 0)
}

// checkUnnoticed fails the test if a watched stream changed status, a session left ESTABLISHED,
// or a node was declared down or gone.
func checkUnnoticed(t *testing.T, watched []*watchedStream, sessions []*wasmclient.Session, sig *process, mds []*process) {
	t.Helper()
	for _, w := range watched {
		if changes := w.changes(); len(changes) > 0 {
			t.Fatalf("%s changed status during the failovers: %s", w.st.Name(), strings.Join(changes, ", "))
		}
	}
	for i, s := range sessions {
		if st := s.Status(); st != wasmclient.SessionEstablished {
			t.Fatalf("session %d is %s, want %s", i, st, wasmclient.SessionEstablished)
		}
	}
	for _, l := range sig.logged("media node down") {
		t.Fatalf("signal declared a media daemon down: %s", l)
	}
	for _, md := range mds {
		for _, what := range []string{"signal node gone", "control plane lost", "media sessions of its previous life"} {
			for _, l := range md.logged(what) {
				t.Fatalf("%s: %s", md.name, l)
			}
		}
	}
}

// logged returns the log lines containing s.
func (p *process) logged(s string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// watchedStream records every status a live stream reports after it went live.
type watchedStream struct {
	st     *wasmclient.Stream
	mu     sync.Mutex
	status []string
}

func watchStream(t *testing.T, st *wasmclient.Stream) *watchedStream {
	w := &watchedStream{st: st}
	live := st.Status()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case e := <-st.Events():
				if e.Kind == "local" || e.Kind == wcs.MsgFail || e.Kind == wcs.MsgNotifyStreamStatusEvent {
					if e.Stream.Status == live && e.Kind == wcs.MsgNotifyStreamStatusEvent && !e.At.After(st.Timeline().Active) {
						continue // the status it went live with, still queued
					}
					w.mu.Lock()
					w.status = append(w.status, fmt.Sprintf("%s %q (%s)", e.Stream.Status, e.Stream.Info, e.Kind))
					w.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { close(done) })
	return w
}

func (w *watchedStream) changes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.status)
}

// --- a three-server nats-server cluster ---

type natsClusterNode struct {
	name                           string
	clientPort, clusterPort, mPort int
	conf                           string
	mu                             sync.Mutex
	out                            strings.Builder // every life's output
	cmd                            *exec.Cmd
	done                           chan struct{}
}

type natsCluster struct {
	bin   string
	nodes []*natsClusterNode
}

// startNATSCluster writes a configuration per server (JetStream in its own store directory, a
// cluster route to each other server, all on free loopback ports), starts the three and waits
// for the JetStream meta group to have a leader.
func startNATSCluster(t *testing.T, bin string) *natsCluster {
	t.Helper()
	ports := freePorts(t, 9)
	c := &natsCluster{bin: bin}
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	dir := t.TempDir()
	for i := range 3 {
		n := &natsClusterNode{name: fmt.Sprintf("n%d", i), clientPort: ports[3*i], clusterPort: ports[3*i+1], mPort: ports[3*i+2]}
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
  name: potok-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, n.name, n.clientPort, n.mPort, filepath.Join(dir, n.name), n.clusterPort, strings.Join(routes, ", "))
		if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
	}
	for i := range c.nodes {
		c.start(t, i)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.stop()
			if t.Failed() {
				n.mu.Lock()
				t.Logf("nats-server %s output (last 4 kB):\n%s", n.name, lastBytes(n.out.String(), 4096))
				n.mu.Unlock()
			}
		}
	})
	for i := range c.nodes {
		c.waitHealthy(t, i)
	}
	return c
}

func (c *natsCluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort))
	}
	return strings.Join(u, ",")
}

func (c *natsCluster) start(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	cmd := exec.Command(c.bin, "-c", n.conf)
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

// kill ends server i with SIGKILL: no lame-duck mode, no leadership transfer.
func (c *natsCluster) kill(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", n.name, err)
	}
	<-n.done
}

func (n *natsClusterNode) stop() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// restart starts server i again on its configuration and store directory.
func (c *natsCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.start(t, i)
	c.waitHealthy(t, i)
}

// waitHealthy waits for server i's /healthz: listening, and its JetStream current with the meta
// group and its assets.
func (c *natsCluster) waitHealthy(t *testing.T, i int) {
	t.Helper()
	n := c.nodes[i]
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.mPort)
	testwait.UntilOK(t, stepTimeout, n.name+" healthy", func() error {
		select {
		case <-n.done:
			t.Fatalf("nats-server %s exited:\n%s", n.name, lastBytes(n.output(), 4096))
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
}

func (n *natsClusterNode) output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

type lockedWriter struct{ n *natsClusterNode }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.n.mu.Lock()
	defer w.n.mu.Unlock()
	return w.n.out.Write(b)
}

// client connects the test to the cluster and waits until JetStream answers (a meta leader).
func (c *natsCluster) client(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.Name("potok-test-probe"))
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

var directoryBuckets = []string{control.BucketNodes, control.BucketStreams}

// checkReplicated expects both directory buckets in file storage with three replicas, a leader
// and two followers.
func checkReplicated(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	for _, b := range directoryBuckets {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		kv, err := js.KeyValue(c, b)
		if err != nil {
			cancel()
			t.Fatalf("bucket %s: %v", b, err)
		}
		st, err := kv.Status(c)
		cancel()
		if err != nil {
			t.Fatalf("bucket %s status: %v", b, err)
		}
		info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
		if info.Config.Replicas != 3 || info.Config.Storage != jetstream.FileStorage || info.Cluster == nil ||
			info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			t.Fatalf("bucket %s: replicas %d, storage %s, cluster %+v; want R3 file storage with a leader and two followers",
				b, info.Config.Replicas, info.Config.Storage, info.Cluster)
		}
		t.Logf("bucket %s: R%d %s, leader %s", b, info.Config.Replicas, info.Config.Storage, info.Cluster.Leader)
	}
}

func streamInfo(js jetstream.JetStream, bucket string) (*jetstream.StreamInfo, error) {
	c, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := js.Stream(c, "KV_"+bucket)
	if err != nil {
		return nil, err
	}
	return s.Info(c)
}

// waitCurrent waits until both buckets have a leader and every replica, server i's included,
// is current: the restarted server has caught up and may lose the next kill's leadership.
func (c *natsCluster) waitCurrent(t *testing.T, js jetstream.JetStream, i int) {
	t.Helper()
	testwait.UntilOK(t, stepTimeout, c.nodes[i].name+" current in both buckets", func() error {
		for _, b := range directoryBuckets {
			info, err := streamInfo(js, b)
			if err != nil {
				return fmt.Errorf("%s: %w", b, err)
			}
			if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
				return fmt.Errorf("%s: cluster %+v", b, info.Cluster)
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current || r.Offline {
					return fmt.Errorf("%s: replica %+v", b, *r)
				}
			}
		}
		return nil
	})
}

// leaders maps each server name to the buckets whose leader it is.
func (c *natsCluster) leaders(t *testing.T, js jetstream.JetStream) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, b := range directoryBuckets {
		info, err := streamInfo(js, b)
		if err != nil {
			t.Fatalf("bucket %s: %v", b, err)
		}
		out[info.Cluster.Leader] = append(out[info.Cluster.Leader], b)
	}
	return out
}

// connectedTo returns the index of the server whose client port pid has an established TCP
// connection to, or -1: the sockets among /proc/pid/fd are looked up in /proc/net/tcp{,6}.
func (c *natsCluster) connectedTo(pid int) int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !inodes[fields[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[2], ":")
			port, err := strconv.ParseInt(hexPort, 16, 32)
			if err != nil {
				continue
			}
			for i, n := range c.nodes {
				if n.clientPort == int(port) {
					_ = f.Close()
					return i
				}
			}
		}
		_ = f.Close()
	}
	return -1
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// --- readiness ---

// readyWatch polls a /ready endpoint every 20 ms and keeps the spells it answered anything but
// 200, one per reason.
type readyWatch struct {
	mu     sync.Mutex
	spells []readySpell
}

type readySpell struct {
	from, to time.Time // to zero while it lasts
	reason   string
}

func watchReady(t *testing.T, url string) *readyWatch {
	w := &readyWatch{}
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: time.Second}
		for c.Err() == nil {
			reason := ""
			now := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				reason = err.Error()
			} else {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					reason = strings.TrimSpace(string(body))
				}
			}
			w.mu.Lock()
			n := len(w.spells)
			open := n > 0 && w.spells[n-1].to.IsZero()
			if open && w.spells[n-1].reason != reason {
				w.spells[n-1].to = now
				open = false
			}
			if !open && reason != "" {
				w.spells = append(w.spells, readySpell{from: now, reason: reason})
			}
			w.mu.Unlock()
			select {
			case <-c.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// ready reports whether the last answer was 200, or the last spell's reason.
func (w *readyWatch) ready() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.spells); n > 0 && w.spells[n-1].to.IsZero() {
		return errors.New(w.spells[n-1].reason)
	}
	return nil
}

func waitAllReady(t *testing.T, watches map[string]*readyWatch) {
	t.Helper()
	testwait.UntilOK(t, stepTimeout, "every process ready", func() error {
		for name, w := range watches {
			if err := w.ready(); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		return nil
	})
}

// notReadySince describes the spells that began after since.
func (w *readyWatch) notReadySince(since time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, s := range w.spells {
		if s.from.Before(since) {
			continue
		}
		to := s.to
		if to.IsZero() {
			to = time.Now()
		}
		out = append(out, fmt.Sprintf("+%v for %v: %s", s.from.Sub(since).Round(time.Millisecond),
			to.Sub(s.from).Round(time.Millisecond), s.reason))
	}
	return out
}

// --- KV write probe ---

// kvProbe writes a key of its own to each directory bucket every 100 ms, to measure how long
// writes fail while a bucket's Raft group elects a new leader. Its key is no stream's, and in the
// nodes bucket its record is of a kind potok ignores.
type kvProbe struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	writes []probeWrite
}

var probeRecord = []byte(`{"id":"test-probe","kind":"test-probe"}`)

type probeWrite struct {
	bucket     string
	start, end time.Time
	err        error
}

func startKVProbe(t *testing.T, js jetstream.JetStream) *kvProbe {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	p := &kvProbe{cancel: cancel, done: make(chan struct{})}
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range directoryBuckets {
		kv, err := js.KeyValue(ctx(t), b)
		if err != nil {
			t.Fatal(err)
		}
		kvs[b] = kv
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for c.Err() == nil {
			for _, b := range directoryBuckets {
				wc, wcancel := context.WithTimeout(c, time.Second)
				w := probeWrite{bucket: b, start: time.Now()}
				_, w.err = kvs[b].Put(wc, "test.probe", probeRecord)
				wcancel()
				w.end = time.Now()
				if c.Err() != nil {
					return
				}
				p.mu.Lock()
				p.writes = append(p.writes, w)
				p.mu.Unlock()
			}
			select {
			case <-c.Done():
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *kvProbe) stop() {
	p.cancel()
	<-p.done
}

// longestFailure is the longest time writes to bucket failed since since: from the start of a
// failed write to the end of the next successful one.
func (p *kvProbe) longestFailure(since time.Time, bucket string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var longest time.Duration
	var from time.Time
	for _, w := range p.writes {
		if w.bucket != bucket || w.start.Before(since) {
			continue
		}
		switch {
		case w.err != nil && from.IsZero():
			from = w.start
		case w.err == nil && !from.IsZero():
			longest = max(longest, w.end.Sub(from))
			from = time.Time{}
		}
	}
	if !from.IsZero() {
		longest = max(longest, time.Since(from))
	}
	return longest
}

// waitWritable waits until every bucket takes writes again after a kill at since: its last
// write succeeded, and started late enough (probeSettle) that a bucket whose leader died had
// begun failing. It returns when the last of them succeeded.
func (p *kvProbe) waitWritable(t *testing.T, since time.Time) time.Time {
	t.Helper()
	var back time.Time
	testwait.UntilOK(t, stepTimeout, "both directory buckets writable", func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		back = time.Time{}
		for _, b := range directoryBuckets {
			var last *probeWrite
			for i := range p.writes {
				if w := &p.writes[i]; w.bucket == b && w.start.After(since.Add(probeSettle)) {
					last = w
				}
			}
			switch {
			case last == nil:
				return fmt.Errorf("%s: no write yet", b)
			case last.err != nil:
				return fmt.Errorf("%s: %w", b, last.err)
			}
			if last.end.After(back) {
				back = last.end
			}
		}
		return nil
	})
	return back
}

// probeSettle: writes started this soon after a kill may still have been answered by the
// leader that was killed.
const probeSettle = time.Second

// publishThroughFailover publishes name from a new session, again every 100 ms while signal
// refuses it with "Control plane unavailable", and returns the live stream and how many times
// it was refused. Any other outcome fails the test, and so do refusals past stepTimeout.
func publishThroughFailover(t *testing.T, tg Target, name string) (*wasmclient.Stream, int) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for refused := 0; ; refused++ {
		s := connect(t, tg)
		st, err := s.Publish(ctx(t), syntheticOptions(t, name))
		if err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		obj, err := st.WaitStatus(ctx(t), wcs.StatusPublishing)
		switch {
		case err == nil:
			return st, refused
		case obj.Status != wcs.StatusFailed || obj.Info != wcs.InfoControlPlaneDown:
			t.Fatalf("publish %s during the failover: %v, want PUBLISHING or FAILED %q", name, err, wcs.InfoControlPlaneDown)
		case time.Now().After(deadline):
			t.Fatalf("publish %s still refused after %v: %v", name, stepTimeout, err)
		}
		_ = s.Close()
		time.Sleep(100 * time.Millisecond)
	}
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}
