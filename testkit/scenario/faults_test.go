package scenario

// Control-plane faults end to end (README "Control plane faults"): NATS killed and restarted
// under live streams, an outage past the grace, a media daemon killed. Real processes (or the
// in-process cluster over TCP) on loopback, real WebRTC clients.

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// Contractual bounds (issue 6), the only wall-clock assertions here. On a 2-core machine with
// both cores kept busy by other processes the tests measured at most 1.1 s and 4.7 s; see the
// MEASURED lines of the logs.
const (
	// newPublishAfterRestart: from the restarted NATS accepting connections to a new publish
	// reaching PUBLISHING (reconnection is retried every 500 ms, then the directory re-asserted).
	newPublishAfterRestart = 2 * time.Second
	// terminalAfterMediadKill: from kill -9 of a media daemon to its clients' FAILED "Media
	// server lost" (control.NodeDownAfter, 5 s, plus the 250 ms sweep).
	terminalAfterMediadKill = 10 * time.Second
	// natsOutage is how long NATS stays down in the within-grace tests (the default grace is 30 s).
	natsOutage = 5 * time.Second
)

// TestNATSRestart kills nats-server with kill -9 under a live publisher and two players and
// starts it again 5 s later on the same port and store: nothing ends, media keeps flowing, /ready
// is 503 while NATS is down and 200 after, and a new publish works within 2 s of the restart.
// With file buckets (the external default) the directory survives the restart; with memory
// buckets the restarted server has nothing and the nodes re-create the buckets and re-assert
// their records and claims: the live publisher still holds its name.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	for _, storage := range []string{"file", "memory"} {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			natsRestart(t, storage)
		})
	}
}

func natsRestart(t *testing.T, storage string) {
	c := startProcCluster(t, 2, "--nats-kv-storage", storage)
	tg := Target{WSURL: c.wsURL}
	name := streamName("live-" + storage)
	pubSess := connect(t, tg)
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	players := []*wasmclient.Stream{
		play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying),
		play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying),
	}
	keepReceiving(t, "before the fault", players...)
	live := append([]*wasmclient.Stream{pub}, players...)

	killed := c.nats.kill(t)
	t.Logf("nats-server killed (kill -9)")
	c.waitReady(t, http.StatusServiceUnavailable)
	for name, base := range c.httpURLs() {
		if code := getHealth(t, base); code != http.StatusOK {
			t.Errorf("%s /health %d while NATS is down, want 200 (liveness)", name, code)
		}
	}
	// What needs the control plane is refused at once; what is live goes on.
	other := connect(t, tg)
	refused(t, other, true, streamName("while-down"), wcs.InfoControlPlaneDown)
	refused(t, other, false, name, wcs.InfoControlPlaneDown)
	keepReceiving(t, "while NATS is down", players...)
	stillLive(t, "while NATS is down", live...)
	if d := time.Since(killed); d > natsOutage {
		t.Logf("the checks while NATS was down took %v: the outage is that long, still within the grace", d)
	}
	// A player that keeps trying from just before the restart sees every step of the recovery.
	time.Sleep(time.Until(killed.Add(natsOutage - 200*time.Millisecond)))
	probe := playProbe(t, connect(t, tg), name)
	time.Sleep(time.Until(killed.Add(natsOutage)))

	restarted := c.nats.start(t)
	t.Logf("nats-server restarted after %v", restarted.Sub(killed).Round(time.Millisecond))
	fresh, at := publishWhenBack(t, connect(t, tg), streamName("after-restart"))
	took := at.Sub(restarted)
	t.Logf("MEASURED %s buckets: new publish PUBLISHING %v after the restarted NATS accepted connections",
		storage, took.Round(time.Millisecond))
	if took > newPublishAfterRestart {
		t.Errorf("new publish took %v after the NATS restart, want within %v", took, newPublishAfterRestart)
	}
	infos, player := probe()
	t.Logf("play of the live stream, tried from before the restart: %d refusals %v before PLAYING",
		len(infos), summarizeInfos(infos))
	onlyControlPlaneDown(t, "a play of the live stream", infos)
	if player == nil {
		t.Fatal("the live stream never played after the restart")
	}
	c.waitReady(t, http.StatusOK)
	keepReceiving(t, "after the restart", append(players, player)...)
	stillLive(t, "after the restart", live...)
	// The live publisher still holds its name: with memory buckets the restarted server had
	// lost the claim and the signal node put it back.
	refused(t, other, true, name, wcs.InfoStreamNameAlreadyInUse)
	// Past NodeDownAfter from the reconnection, a media daemon whose record was not rewritten
	// would be judged dead and its streams failed: nothing of the kind.
	time.Sleep(time.Until(restarted.Add(control.NodeDownAfter + 2*time.Second)))
	keepReceiving(t, "well after the restart", append(players, player)...)
	stillLive(t, "well after the restart", append(live, fresh, player)...)

	stop(t, pub, wcs.StatusUnpublished)
	for _, p := range append(players, player) {
		waitTerminal(t, p, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	}
	stop(t, fresh, wcs.StatusUnpublished)
	waitPeerConnections(t, Target{PeerConnections: c.peerConnections}, 0)
	// The name is free again.
	again := publishSynthetic(t, other, name, wcs.StatusPublishing)
	stop(t, again, wcs.StatusUnpublished)
	c.signal.terminate(t)
	for _, md := range c.mediads {
		md.terminate(t)
	}
}

// TestNATSBackWithoutJetStream restarts nats-server at once but without JetStream, as a server
// that is up while its JetStream is not (misconfigured, or a JetStream cluster without quorum):
// NATS is reachable, the directory is not. Nothing ends — no media daemon is judged dead for a
// silence the directory imposes — new streams are refused "Control plane unavailable" and /ready
// stays 503, for longer than a silent media daemon is allowed; once JetStream is back the
// cluster works again.
func TestNATSBackWithoutJetStream(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 2)
	tg := Target{WSURL: c.wsURL}
	name, gone := streamName("nojs"), streamName("nojs-gone")
	pub := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	leaving := publishSynthetic(t, connect(t, tg), gone, wcs.StatusPublishing)
	left := play(t, connect(t, tg), wasmclient.PlayOptions{Name: gone}, wcs.StatusPlaying)
	keepReceiving(t, "before the fault", player, left)

	c.nats.kill(t)
	c.waitReady(t, http.StatusServiceUnavailable)
	// A publisher that stops while NATS is down: its media daemon cannot be told, nor its name
	// released. Both are kept and sent once they can be: the stop as soon as NATS is back (its
	// player learns it then), the release once the directory is.
	stop(t, leaving, wcs.StatusUnpublished)
	back := c.nats.startWithoutJetStream(t)
	waitTerminal(t, left, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	other := connect(t, tg)
	refused(t, other, true, streamName("no-directory"), wcs.InfoControlPlaneDown)
	refused(t, other, false, name, wcs.InfoControlPlaneDown)
	time.Sleep(time.Until(back.Add(control.NodeDownAfter + 2*time.Second)))
	keepReceiving(t, "while the directory is unreachable", player)
	stillLive(t, "while the directory is unreachable", pub, player)
	c.waitReady(t, http.StatusServiceUnavailable)

	c.nats.kill(t)
	restarted := c.nats.start(t)
	fresh, at := publishWhenBack(t, other, streamName("after-jetstream"))
	t.Logf("new publish PUBLISHING %v after JetStream was back", at.Sub(restarted).Round(time.Millisecond))
	c.waitReady(t, http.StatusOK)
	refused(t, other, true, name, wcs.InfoStreamNameAlreadyInUse)
	again := publishSynthetic(t, other, gone, wcs.StatusPublishing)
	stop(t, again, wcs.StatusUnpublished)
	keepReceiving(t, "after JetStream is back", player)
	stillLive(t, "after JetStream is back", pub, player, fresh)
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	stop(t, fresh, wcs.StatusUnpublished)
}

// TestNATSOutagePastGrace keeps NATS down for longer than a 3 s grace: every stream ends FAILED
// "Control plane unavailable" (the WebSockets stay open), the media daemons end their media
// sessions, and once NATS is back the cluster works again without restarting anything, on the
// same sessions, the failed stream's name included.
func TestNATSOutagePastGrace(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Second
	c := startProcCluster(t, 2, "--nats-grace", grace.String())
	tg := Target{WSURL: c.wsURL}
	name := streamName("grace")
	pubSess, playSess := connect(t, tg), connect(t, tg)
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, playSess, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "before the fault", player)

	killed := c.nats.kill(t)
	endedPastGrace(t, killed, grace, 2*grace, pub, player)
	// The media daemons ended their side too: nobody could stop those sessions any more.
	waitPeerConnections(t, Target{PeerConnections: c.peerConnections}, 0)
	time.Sleep(time.Until(killed.Add(2 * grace)))

	restarted := c.nats.start(t)
	t.Logf("nats-server restarted after %v", restarted.Sub(killed).Round(time.Millisecond))
	for _, s := range []*wasmclient.Session{pubSess, playSess} {
		select {
		case <-s.Done():
			t.Fatalf("a client session closed during the outage: %v", s.Err())
		default:
		}
	}
	// The same sessions publish and play again, the failed stream's name included: its release,
	// kept while NATS was down, was sent once it was back.
	again, at := publishWhenBack(t, pubSess, name)
	t.Logf("republish of the failed name PUBLISHING %v after the restart", at.Sub(restarted).Round(time.Millisecond))
	player = play(t, playSess, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "after the recovery", player)
	c.waitReady(t, http.StatusOK)
	stop(t, again, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
}

// endedPastGrace waits for streams to end FAILED "Control plane unavailable" after NATS went
// down at down: not before the grace, and while NATS is still down (outage): an outage longer
// than the grace ends them, not the recovery that follows it.
func endedPastGrace(t *testing.T, down time.Time, grace, outage time.Duration, streams ...*wasmclient.Stream) {
	t.Helper()
	for _, st := range streams {
		waitTerminal(t, st, wcs.StatusFailed, wcs.InfoControlPlaneDown)
		after := st.Timeline().Ended.Sub(down)
		t.Logf("MEASURED %s FAILED %q %v after NATS went down (grace %v)", streamKind(st), st.Info(),
			after.Round(time.Millisecond), grace)
		switch {
		case after < grace:
			t.Errorf("%s ended %v after NATS went down, before the %v grace", streamKind(st), after, grace)
		case after > outage:
			t.Errorf("%s ended %v after NATS went down, not during the %v outage (grace %v)", streamKind(st), after, outage, grace)
		}
	}
}

// TestEmbeddedNATSOutagePastGrace is the outage past the grace on the in-process cluster (grace
// 1 s, NATS down 4 s): the streams end during the outage, the cluster works after it.
func TestEmbeddedNATSOutagePastGrace(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a NATS outage")
	}
	const grace, outage = time.Second, 4 * time.Second
	c := cluster.Start(t, cluster.Options{NATSListen: true, Grace: grace})
	tg := Target{WSURL: c.WSURL, PeerConnections: func(*testing.T) int { return c.PeerConnections() }}
	name := streamName("embedded-grace")
	pubSess, playSess := connect(t, tg), connect(t, tg)
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, playSess, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "before the fault", player)

	stopped := time.Now() // the nodes lose the server after this
	c.StopNATS(t)
	endedPastGrace(t, stopped, grace, outage, pub, player)
	waitPeerConnections(t, tg, 0)
	time.Sleep(time.Until(stopped.Add(outage)))

	c.StartNATS(t)
	again, _ := publishWhenBack(t, pubSess, name)
	player = play(t, playSess, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "after the recovery", player)
	stop(t, again, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	waitPeerConnections(t, tg, 0)
}

// TestEmbeddedNATSRestart is the within-grace restart on the in-process cluster: its embedded
// server is shut down and started again on the same port with an empty store (as a restarted
// server with memory buckets), the nodes connected to it over TCP.
func TestEmbeddedNATSRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a NATS outage")
	}
	c := cluster.Start(t, cluster.Options{NATSListen: true, Mediads: 2})
	tg := Target{WSURL: c.WSURL, PeerConnections: func(*testing.T) int { return c.PeerConnections() }}
	readyAll := func() error {
		for _, d := range c.Mediads {
			if err := d.Ready(); err != nil {
				return err
			}
		}
		return c.Signals[0].Ready()
	}
	testwait.UntilOK(t, stepTimeout, "the cluster to be ready", readyAll)
	name := streamName("embedded")
	pub := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "before the fault", player)

	stopped := time.Now()
	c.StopNATS(t)
	testwait.UntilOK(t, stepTimeout, "every node to be not ready", func() error {
		for _, r := range []func() error{c.Mediads[0].Ready, c.Mediads[1].Ready, c.Signals[0].Ready} {
			if r() == nil {
				return errors.New("a node is still ready")
			}
		}
		return nil
	})
	other := connect(t, tg)
	refused(t, other, true, streamName("while-down"), wcs.InfoControlPlaneDown)
	refused(t, other, false, name, wcs.InfoControlPlaneDown)
	keepReceiving(t, "while NATS is down", player)
	const outage = 2 * time.Second // in-process: the grace is the default 30 s, any outage under it will do
	time.Sleep(time.Until(stopped.Add(outage)))

	c.StartNATS(t)
	restarted := time.Now()
	fresh, at := publishWhenBack(t, connect(t, tg), streamName("after-restart"))
	took := at.Sub(restarted)
	t.Logf("MEASURED embedded NATS: new publish PUBLISHING %v after the restart", took.Round(time.Millisecond))
	if took > newPublishAfterRestart {
		t.Errorf("new publish took %v after the NATS restart, want within %v", took, newPublishAfterRestart)
	}
	testwait.UntilOK(t, stepTimeout, "the cluster to be ready again", readyAll)
	refused(t, other, true, name, wcs.InfoStreamNameAlreadyInUse)
	time.Sleep(time.Until(restarted.Add(control.NodeDownAfter + 2*time.Second)))
	keepReceiving(t, "well after the restart", player)
	stillLive(t, "well after the restart", pub, player, fresh)
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	stop(t, fresh, wcs.StatusUnpublished)
	waitPeerConnections(t, tg, 0)
}

// TestMediadKilled kills -9 the media daemon holding a stream: its publisher and player get
// FAILED "Media server lost" within 10 s, and the name is published again at once on the other
// daemon.
func TestMediadKilled(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 2)
	tg := Target{WSURL: c.wsURL}
	name := streamName("victim")
	pubSess := connect(t, tg)
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "before the kill", player)
	holder := -1
	for i := range c.mediads {
		if n := c.mediadPeers(t, i); n == 2 {
			holder = i
		} else if n != 0 {
			t.Fatalf("%s has %d peer connections, want 0 or 2 (publisher and player on one daemon)", c.mediadID[i], n)
		}
	}
	if holder < 0 {
		t.Fatal("no media daemon holds the publisher and the player")
	}
	survivor := 1 - holder

	killed := time.Now()
	if err := c.mediads[holder].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s killed (kill -9)", c.mediadID[holder])
	for _, st := range []*wasmclient.Stream{pub, player} {
		obj, err := st.WaitStatus(ctx(t), wcs.StatusFailed)
		if err != nil || obj.Info != wcs.InfoMediaNodeLost {
			t.Fatalf("%s: %s %q (%v), want FAILED %q", streamKind(st), obj.Status, obj.Info, err, wcs.InfoMediaNodeLost)
		}
		ended := st.Timeline().Ended
		took := ended.Sub(killed)
		t.Logf("MEASURED %s FAILED %q %v after kill -9 of its media daemon", streamKind(st), obj.Info, took.Round(time.Millisecond))
		if took > terminalAfterMediadKill {
			t.Errorf("%s got its terminal status %v after the kill, want within %v", streamKind(st), took, terminalAfterMediadKill)
		}
	}
	// The name is free at once: the first attempt, on the same session, is accepted.
	again := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	t.Logf("MEASURED republish PUBLISHING %v after the FAILED", again.Timeline().Active.Sub(pub.Timeline().Ended).Round(time.Millisecond))
	if n := c.mediadPeers(t, survivor); n != 1 {
		t.Fatalf("%s has %d peer connections after the republish, want 1: the republish should be on it", c.mediadID[survivor], n)
	}
	player = play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "from the surviving daemon", player)
	stop(t, again, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	// Nothing of the dead daemon is left in the directory (issue 8 item 6).
	checkDirectoryClean(t, c.nats.url(), c.mediadID[holder])
}

// summarizeInfos counts runs of equal strings: [a a b] -> [a×2 b×1].
func summarizeInfos(ss []string) []string {
	var out []string
	for i := 0; i < len(ss); {
		j := i
		for j < len(ss) && ss[j] == ss[i] {
			j++
		}
		out = append(out, fmt.Sprintf("%q×%d", ss[i], j-i))
		i = j
	}
	return out
}

func streamKind(st *wasmclient.Stream) string {
	if st.Published() {
		return "publisher"
	}
	return "player"
}

// TestMediadStalled (issue 8 item 2): a media daemon that stalls (SIGSTOP: alive, its sockets
// open, nothing answered and no heartbeat) is treated as down like a dead one — its clients get
// FAILED "Media server lost" and the name is free for a republish on the other daemon. When it
// resumes (SIGCONT) it must not keep what the cluster gave up: its stale media sessions end and
// it takes new ones again.
func TestMediadStalled(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 2)
	tg := Target{WSURL: c.wsURL}
	name := streamName("stalled")
	pubSess := connect(t, tg)
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "before the stall", player)
	holder := 0
	if c.mediadPeers(t, 1) == 2 {
		holder = 1
	}
	if n := c.mediadPeers(t, holder); n != 2 {
		t.Fatalf("%s has %d peer connections, want the publisher's and the player's", c.mediadID[holder], n)
	}
	survivor := 1 - holder
	proc := c.mediads[holder].cmd.Process
	stalled := time.Now()
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = proc.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume) // a stopped process would never see the cleanup's SIGTERM
	for _, st := range []*wasmclient.Stream{pub, player} {
		obj, err := st.WaitStatus(ctx(t), wcs.StatusFailed)
		if err != nil || obj.Info != wcs.InfoMediaNodeLost {
			t.Fatalf("%s: %s %q (%v), want FAILED %q", streamKind(st), obj.Status, obj.Info, err, wcs.InfoMediaNodeLost)
		}
		t.Logf("MEASURED %s FAILED %q %v after SIGSTOP of its media daemon", streamKind(st), obj.Info,
			st.Timeline().Ended.Sub(stalled).Round(time.Millisecond))
	}
	again := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	if n := c.mediadPeers(t, survivor); n != 1 {
		t.Fatalf("%s has %d peer connections after the republish, want 1", c.mediadID[survivor], n)
	}

	resume()
	testwait.UntilOK(t, 20*time.Second, "the resumed daemon rid of its stale media sessions", func() error {
		if n := c.mediadPeers(t, holder); n != 0 {
			return fmt.Errorf("%s still has %d peer connections", c.mediadID[holder], n)
		}
		return nil
	})
	// The stream lives on the survivor; the resumed daemon serves new sessions again.
	player = play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	keepReceiving(t, "after the stalled daemon resumed", player)
	testwait.UntilOK(t, 20*time.Second, "a publish placed on the resumed daemon", func() error {
		st := publishSynthetic(t, connect(t, tg), streamName("after-stall"), wcs.StatusPublishing)
		defer stop(t, st, wcs.StatusUnpublished)
		if c.mediadPeers(t, holder) == 0 {
			return fmt.Errorf("placed on %s", c.mediadID[survivor])
		}
		return nil
	})
	stop(t, again, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
}
