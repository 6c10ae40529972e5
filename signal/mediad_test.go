package signal_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/mediad"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/testkit/testwait"
)

// startRealMediad runs the real media daemon on the env's NATS, loopback only. It stops before the
// env (cleanups run last-in first-out).
func startRealMediad(t *testing.T, e *env, id string) *mediad.Daemon {
	t.Helper()
	return startRealMediadCfg(t, e, mediad.Config{NodeID: id, ListenIP: "127.0.0.1", LoopbackOnly: true})
}

func startRealMediadCfg(t *testing.T, e *env, cfg mediad.Config) *mediad.Daemon {
	t.Helper()
	d, err := mediad.Start(context.Background(), cfg, e.nc, logging.Test().With().Str("nodeId", cfg.NodeID).Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// publishReal publishes with a pion peer through c and waits for PUBLISHING. The daemon's first
// heartbeat may not have reached the signal's node view yet: "no media servers" is retried.
func publishReal(t *testing.T, c *client, name string) (*peer, string) {
	t.Helper()
	i := 0
	var p *peer
	var id string
	answer := placePublish(t, c, func() map[string]any {
		p = newPublisher(t)
		id = fmt.Sprintf("%s-pub-%d", name, i)
		i++
		req := publishReq(id, name)
		req["sdp"] = p.offer
		return req
	}, func() { p.close() })
	var sdp string
	answer.arg(t, 1, &sdp)
	p.answer(sdp)
	p.sendMedia()
	st := c.streamStatus()
	if st.Status != wcs.StatusPublishing || st.MediaSessionID != id || !st.HasVideo || !st.HasAudio ||
		st.VideoCodec != "VP8" || st.AudioCodec != "opus" {
		t.Fatalf("publish %s: %+v", name, st)
	}
	return p, id
}

// placePublish sends the request next() builds until a media daemon takes it and returns its
// setRemoteSDP. A FAILED "no media servers" (the signal node has not seen the daemon yet) is
// retried after discard; any other answer fails the test.
func placePublish(t *testing.T, c *client, next func() map[string]any, discard func()) frame {
	t.Helper()
	var answer frame
	testwait.UntilOK(t, waitFor, "a media daemon to take the publish", func() error {
		req := next()
		c.send(wcs.MsgPublishStream, req)
		f := c.next()
		if f.Message == wcs.MsgSetRemoteSDP {
			answer = f
			return nil
		}
		if f.Message == wcs.MsgNotifyStreamStatusEvent {
			var st wcs.Stream
			f.arg(t, 0, &st)
			if st.Info == session.InfoNoMediaNode {
				discard()
				return fmt.Errorf("%s: %s", st.Status, st.Info)
			}
		}
		t.Fatalf("publish %v: %s", req["name"], f.raw)
		return nil
	})
	return answer
}

// playReal plays name with a pion peer through c and waits for PLAYING and for media to arrive.
func playReal(t *testing.T, c *client, name, id string) *peer {
	t.Helper()
	p := newPlayer(t)
	req := playReq(id, name)
	req["sdp"] = p.offer
	c.send(wcs.MsgPlayStream, req)
	f := c.expect(wcs.MsgSetRemoteSDP)
	var sdp string
	f.arg(t, 1, &sdp)
	p.answer(sdp)
	st := c.streamStatus()
	if st.Status != wcs.StatusPlaying || st.MediaSessionID != id || st.Published || st.AudioState == nil {
		t.Fatalf("play %s: %+v", name, st)
	}
	eventually(t, "media at the player", func() bool { return p.got.Load() > 10 })
	return p
}

// terminal skips resize/rate/event messages and returns the terminal status of id.
func (c *client) terminal(id string) wcs.Stream {
	c.t.Helper()
	for {
		f := c.next()
		if f.Message != wcs.MsgNotifyStreamStatusEvent {
			continue // notifyVideoFormat, notifyStreamEvent resize, outboundVideoRate
		}
		var st wcs.Stream
		f.arg(c.t, 0, &st)
		if st.MediaSessionID == id {
			return st
		}
	}
}

// Publish and play through the real daemon with pion peers; a second publisher of the name is
// refused; unpublish ends the player with "Stopped by publisher stop" (§E.2–§E.6, §I.1).
func TestRealMediadPublishPlay(t *testing.T) {
	e := newEnv(t, signal.Config{})
	d := startRealMediad(t, e, "md-real")
	pub, play, dup := e.dial(t), e.dial(t), e.dial(t)
	pub.connect(nil)
	play.connect(nil)
	dup.connect(nil)

	_, pubID := publishReal(t, pub, "cam")
	playReal(t, play, "cam", "player-1")
	// The picture size read from the publisher's bitstream reaches the player (§C.7, §C.9).
	for {
		f := play.next()
		if f.Message == wcs.MsgNotifyVideoFormat {
			var vf wcs.VideoFormat
			f.arg(t, 0, &vf)
			if vf.MediaSessionID != "player-1" || vf.StreamerVideoWidth != 320 || vf.StreamerVideoHeight != 240 {
				t.Errorf("notifyVideoFormat %+v", vf)
			}
			break
		}
	}

	p2 := newPublisher(t)
	req := publishReq("dup-1", "cam")
	req["sdp"] = p2.offer
	dup.send(wcs.MsgPublishStream, req)
	if st := dup.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNameAlreadyInUse {
		t.Errorf("duplicate name: %+v", st)
	}

	pub.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": pubID, "name": "cam", "status": "PUBLISHING"})
	if st := pub.terminal(pubID); st.Status != wcs.StatusUnpublished {
		t.Errorf("publisher: %+v", st)
	}
	if st := play.terminal("player-1"); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStoppedByPublisherStop {
		t.Errorf("player after unpublish: %+v", st)
	}
	if s := dup.available("cam"); s != "false" {
		t.Errorf("name kept after unpublish: %s", s)
	}
	eventually(t, "no peer connection left at the daemon", func() bool { return d.PeerConnections() == 0 })
}

// The publisher's socket closes: its player elsewhere gets FAILED "Stopped by publisher stop" from
// the daemon and the name is free again (§E.8).
func TestRealMediadDisconnectWhilePublishing(t *testing.T) {
	e := newEnv(t, signal.Config{})
	d := startRealMediad(t, e, "md-real")
	pub, play := e.dial(t), e.dial(t)
	pub.connect(nil)
	play.connect(nil)
	publishReal(t, pub, "cam2")
	playReal(t, play, "cam2", "player-2")

	_ = pub.ws.CloseNow()
	if st := play.terminal("player-2"); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStoppedByPublisherStop {
		t.Errorf("player after publisher disconnect: %+v", st)
	}
	eventually(t, "name released", func() bool { return play.available("cam2") == "false" })
	eventually(t, "no peer connection left at the daemon", func() bool { return d.PeerConnections() == 0 })
}

// A client that never applies the answer: the daemon's ICE timeout resolves the stream, which
// never stays PENDING (§0 rule 10); a stop while PENDING still gives UNPUBLISHED (§E.5). The stop
// must reach the daemon before its ICE timer: 1.5 s leaves a loaded machine room for that round trip.
func TestRealMediadPendingResolved(t *testing.T) {
	const iceTimeout = 1500 * time.Millisecond
	e := newEnv(t, signal.Config{})
	startRealMediadCfg(t, e, mediad.Config{NodeID: "md-real", ListenIP: "127.0.0.1", LoopbackOnly: true,
		ICETimeout: iceTimeout})
	c := e.dial(t)
	c.connect(nil)
	publishPending := func(id, name string) {
		t.Helper()
		placePublish(t, c, func() map[string]any {
			req := publishReq(id, name)
			req["sdp"] = newPublisher(t).offer
			return req
		}, func() {})
	}
	publishPending("m-timeout", "never")
	if st := c.terminal("m-timeout"); st.Status != wcs.StatusFailed || st.Info != wcs.InfoICETimeout {
		t.Errorf("unanswered publish: %+v", st)
	}
	if s := c.available("never"); s != "false" {
		t.Errorf("name kept after ICE timeout: %s", s)
	}
	publishPending("m-instant", "instant")
	c.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": "m-instant", "status": "PENDING"})
	if st := c.terminal("m-instant"); st.Status != wcs.StatusUnpublished {
		t.Errorf("instant publish stop: %+v", st)
	}
	c.quiet(iceTimeout + 300*time.Millisecond) // the daemon's timer must not produce a second terminal status
}

// Two signal nodes share one daemon: a player on node B of a stream published through node A gets
// its events on B; names are unique across nodes (design.md "Control plane", §E.4, §E.6).
func TestRealMediadTwoSignalNodes(t *testing.T) {
	e := newEnv(t, signal.Config{NodeID: "sig-a"})
	b, err := signal.New(context.Background(), signal.Config{NodeID: "sig-b"}, e.nc, logging.Test())
	if err != nil {
		t.Fatal(err)
	}
	hb := httptest.NewServer(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hb.CloseClientConnections()
		hb.Close()
	})
	startRealMediad(t, e, "md-real")
	pub := e.dial(t)
	pub.connect(nil)
	urlB := "ws" + strings.TrimPrefix(hb.URL, "http")
	play, dup := dialURL(t, urlB, nil), dialURL(t, urlB, nil)
	play.connect(nil)
	dup.connect(nil)

	_, pubID := publishReal(t, pub, "shared")
	playReal(t, play, "shared", "player-b")
	p2 := newPublisher(t)
	req := publishReq("dup-b", "shared")
	req["sdp"] = p2.offer
	dup.send(wcs.MsgPublishStream, req)
	if st := dup.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNameAlreadyInUse {
		t.Errorf("duplicate name on node B: %+v", st)
	}
	pub.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": pubID})
	if st := play.terminal("player-b"); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStoppedByPublisherStop {
		t.Errorf("player on node B: %+v", st)
	}
}

// Server shutdown with live media: terminal statuses, GoingAway, and the daemon is left with no
// peer connection of ours.
func TestRealMediadShutdown(t *testing.T) {
	e := newEnv(t, signal.Config{})
	d := startRealMediad(t, e, "md-real")
	pub, play := e.dial(t), e.dial(t)
	pub.connect(nil)
	play.connect(nil)
	_, pubID := publishReal(t, pub, "live")
	playReal(t, play, "live", "player-s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := pub.terminal(pubID); st.Status != wcs.StatusUnpublished {
		t.Errorf("publisher at shutdown: %+v", st)
	}
	if st := play.terminal("player-s"); st.Status != wcs.StatusStopped {
		t.Errorf("player at shutdown: %+v", st)
	}
	for _, c := range []*client{pub, play} {
		if code := c.waitClosed(waitFor); code != 1001 {
			t.Errorf("close status %v", code)
		}
	}
	eventually(t, "no peer connection left at the daemon", func() bool { return d.PeerConnections() == 0 })
}
