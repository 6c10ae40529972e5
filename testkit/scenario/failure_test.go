package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// Issue 8 item 6 (design.md "Failure"): what clients see, and how long it takes, when a machine
// dies or a media daemon is stopped; the directory is clean afterwards.
const (
	// mediaEndAfterSignalKill: the media daemons end a dead signal node's media sessions once
	// its record expires (control.NodeTTL, 10 s after its last heartbeat).
	mediaEndAfterSignalKill = 15 * time.Second
	// drainGrace is the --drain-grace of the drain test.
	drainGrace = 3 * time.Second
)

// TestSignalKilled kills -9 a signal node holding a publisher (played through another signal
// node) and a player (of a stream published through the other node). Its client's WebSocket
// closes; the media daemon ends all of its media sessions within 15 s; the player on the other
// node gets FAILED "Stopped by publisher stop" (docs/protocol.md §E.8); the name is published
// again at once through the surviving node; and nothing of the dead node is left in the
// directory.
func TestSignalKilled(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 1)
	a, b := Target{WSURL: c.wsURL}, Target{WSURL: startSignalProc(t, c, "signal-b")}
	nameA, nameB := streamName("on-dead"), streamName("on-live")
	sessA, sessB := connect(t, a), connect(t, b)
	pubB := publishSynthetic(t, sessB, nameB, wcs.StatusPublishing)
	publishSynthetic(t, sessA, nameA, wcs.StatusPublishing)
	// Nobody publishes this one again: only the surviving node's clean-up frees its claim.
	publishSynthetic(t, sessA, streamName("unclaimed"), wcs.StatusPublishing)
	play(t, sessA, wasmclient.PlayOptions{Name: nameB}, wcs.StatusPlaying)
	playerB := play(t, connect(t, b), wasmclient.PlayOptions{Name: nameA}, wcs.StatusPlaying)
	keepReceiving(t, "before the kill", playerB)
	if n := c.mediadPeers(t, 0); n != 5 {
		t.Fatalf("media daemon has %d peer connections, want 5", n)
	}

	killed := time.Now()
	if err := c.signal.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sessA.Done():
	case <-time.After(stepTimeout):
		t.Fatal("the dead signal node's client still has its WebSocket")
	}
	obj, err := playerB.WaitStatus(ctx(t), wcs.StatusFailed)
	if err != nil || obj.Info != wcs.InfoStoppedByPublisherStop {
		t.Fatalf("player on the surviving node: %s %q (%v), want FAILED %q", obj.Status, obj.Info, err, wcs.InfoStoppedByPublisherStop)
	}
	took := playerB.Timeline().Ended.Sub(killed)
	t.Logf("MEASURED player on the other node FAILED %q %v after kill -9 of the publisher's signal node", obj.Info, took.Round(time.Millisecond))
	if took > mediaEndAfterSignalKill {
		t.Errorf("player got its terminal status %v after the kill, want within %v", took, mediaEndAfterSignalKill)
	}
	// The player may hear first: the dead node's client closed its peer connections with its
	// socket, which ends the publisher at once. The name stays claimed by the dead node until its
	// record expires, when the surviving node frees it (issue 8 item 6): publish until accepted.
	republisher := connect(t, b)
	var again *wasmclient.Stream
	testwait.UntilOK(t, mediaEndAfterSignalKill+5*time.Second, "the dead node's stream name free", func() error {
		st, err := republisher.Publish(ctx(t), syntheticOptions(t, nameA))
		if err != nil {
			return err
		}
		obj, err := st.WaitStatus(ctx(t), wcs.StatusPublishing, wcs.StatusFailed)
		if err != nil {
			return err
		}
		if obj.Status != wcs.StatusPublishing {
			return fmt.Errorf("republish %s %q", obj.Status, obj.Info)
		}
		again = st
		return nil
	})
	t.Logf("MEASURED republish through the surviving node PUBLISHING %v after the kill", again.Timeline().Active.Sub(killed).Round(time.Millisecond))
	if took := again.Timeline().Active.Sub(killed); took > mediaEndAfterSignalKill {
		t.Errorf("the dead node's name was free %v after the kill, want within %v", took, mediaEndAfterSignalKill)
	}
	// Left on the daemon: the surviving node's publisher of nameB and the republish.
	testwait.Until(t, mediaEndAfterSignalKill-time.Since(killed)+time.Second, "the dead node's media sessions to end", func() bool {
		return c.mediadPeers(t, 0) == 2
	})
	t.Logf("MEASURED media daemon without the dead node's media sessions %v after the kill", time.Since(killed).Round(time.Millisecond))
	stillLive(t, "after the kill", pubB, again)
	checkDirectoryClean(t, c.nats.url(), "signal-a")
}

// TestMediadDrained stops a media daemon holding a publisher and its player with SIGTERM: it
// says Draining in its heartbeat, so a new publish lands on the other daemon; the old streams go
// on until --drain-grace, then end FAILED "Media server shutdown"; the process exits 0.
func TestMediadDrained(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 2, "--drain-grace", drainGrace.String())
	tg := Target{WSURL: c.wsURL}
	name := streamName("drained")
	pub := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	holder := 0
	if c.mediadPeers(t, 0) == 0 {
		holder = 1
	}
	md := c.mediads[holder]
	sigterm := time.Now()
	if err := md.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, c.nats.url(), c.mediadID[holder])
	// New publishes land on the other daemon; the old streams go on meanwhile.
	other := publishSynthetic(t, connect(t, tg), streamName("after-drain"), wcs.StatusPublishing)
	if n := c.mediadPeers(t, 1-holder); n != 1 {
		t.Errorf("the other media daemon has %d peer connections after a publish during the drain, want 1", n)
	}
	stillLive(t, "during the drain", pub, player)
	for _, st := range []*wasmclient.Stream{pub, player} {
		waitTerminal(t, st, wcs.StatusFailed, wcs.InfoMediaNodeShutdown)
		took := st.Timeline().Ended.Sub(sigterm)
		t.Logf("MEASURED %s FAILED %q %v after SIGTERM (grace %v)", streamKind(st), wcs.InfoMediaNodeShutdown, took.Round(time.Millisecond), drainGrace)
		if took < drainGrace-time.Second {
			t.Errorf("%s ended %v after SIGTERM, before the grace %v", streamKind(st), took, drainGrace)
		}
	}
	select {
	case <-md.done:
		if md.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM", md.name, md.err)
		}
	case <-time.After(drainGrace + stepTimeout):
		t.Fatalf("%s still running %v after SIGTERM", md.name, drainGrace+stepTimeout)
	}
	t.Logf("MEASURED media daemon exited 0 %v after SIGTERM", time.Since(sigterm).Round(time.Millisecond))
	checkDirectoryClean(t, c.nats.url(), c.mediadID[holder])
	stop(t, other, wcs.StatusUnpublished)
}

// startSignalProc starts one more signal process on c's NATS and returns its WebSocket URL.
func startSignalProc(t *testing.T, c *procCluster, id string) string {
	t.Helper()
	p := startProcess(t, potokBinary(t), "signal", "--nats", c.nats.url(), "--signal-node-id", id,
		"--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	p.name = "potok signal " + id
	ws := "ws://" + p.waitAddr(t, "websocket listening")
	waitReadyCode(t, p.name, "http://"+p.waitAddr(t, "http listening"), 200)
	return ws
}

// directoryOf opens the directory buckets on natsURL for the test to read.
func directoryOf(t *testing.T, natsURL string) (nodes, streams jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if nodes, err = js.KeyValue(ctx(t), control.BucketNodes); err != nil {
		t.Fatal(err)
	}
	if streams, err = js.KeyValue(ctx(t), control.BucketStreams); err != nil {
		t.Fatal(err)
	}
	return nodes, streams
}

// waitDraining waits until node's record says Draining.
func waitDraining(t *testing.T, natsURL, node string) {
	t.Helper()
	nodes, _ := directoryOf(t, natsURL)
	testwait.UntilOK(t, stepTimeout, node+" record to say draining", func() error {
		e, err := nodes.Get(ctx(t), control.NodeKey(node))
		if err != nil {
			return err
		}
		var rec control.NodeRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil || !rec.Draining {
			return fmt.Errorf("record %s (%v)", e.Value(), err)
		}
		return nil
	})
}

// checkDirectoryClean waits (at most a record's TTL and a heartbeat) until the directory holds
// no node record of node and no stream claim naming it as signal node or media daemon.
func checkDirectoryClean(t *testing.T, natsURL, node string) {
	t.Helper()
	nodes, streams := directoryOf(t, natsURL)
	start := time.Now()
	testwait.UntilOK(t, control.NodeTTL+2*control.NodeHeartbeat, "no record of "+node+" in the directory", func() error {
		if _, err := nodes.Get(ctx(t), control.NodeKey(node)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("node record still there (%v)", err)
		}
		return claimsOf(ctx(t), streams, node)
	})
	t.Logf("directory clean of %s (checked for %v)", node, time.Since(start).Round(time.Millisecond))
}

// claimsOf fails when a stream claim names node.
func claimsOf(ctx context.Context, streams jetstream.KeyValue, node string) error {
	keys, err := streams.ListKeys(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = keys.Stop() }()
	for k := range keys.Keys() {
		e, err := streams.Get(ctx, k)
		if err != nil {
			continue // released meanwhile
		}
		var rec control.StreamRecord
		if json.Unmarshal(e.Value(), &rec) == nil && (rec.SignalNode == node || rec.MediaNode == node) {
			return fmt.Errorf("claim of %q still names %s: %s", rec.Name, node, e.Value())
		}
	}
	return nil
}
