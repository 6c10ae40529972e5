package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/session"
)

// scriptedMediad speaks the api/control contract over the real NATS, with replies and events the
// test chooses. It exercises the signal's side of the contract, including failures (lost replies,
// daemon errors, late or duplicate events) that a real daemon cannot be made to produce on demand.
// The real daemon is driven in mediad_test.go.
type scriptedMediad struct {
	t  *testing.T
	nc *bus.Link
	id string

	stopBeating atomic.Bool // the daemon "dies": its record is no longer refreshed

	mu           sync.Mutex
	publishReply func(control.PublishRequest) control.PublishReply
	playReply    func(control.PlayRequest) control.PlayReply

	publishes chan control.PublishRequest
	plays     chan control.PlayRequest
	stops     chan control.StopRequest
	events    chan control.StreamEventRequest
}

const testAnswer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n"

// startMediad registers a daemon record (one heartbeat: tests end well within its TTL) and, when
// serve is set, answers its subjects. Call it before the signal node starts (newEnv's hook).
func startMediad(t *testing.T, e *env, id string, serve bool) *scriptedMediad {
	t.Helper()
	return startLoadedMediad(t, e, id, serve, 0)
}

func startLoadedMediad(t *testing.T, e *env, id string, serve bool, load int) *scriptedMediad {
	t.Helper()
	m := &scriptedMediad{t: t, nc: e.nc, id: id,
		publishes: make(chan control.PublishRequest, 16), plays: make(chan control.PlayRequest, 16),
		stops: make(chan control.StopRequest, 16), events: make(chan control.StreamEventRequest, 16),
		publishReply: func(control.PublishRequest) control.PublishReply {
			return control.PublishReply{Answer: testAnswer, AudioCodec: "opus", VideoCodec: "VP8", HasAudio: true, HasVideo: true}
		},
		playReply: func(control.PlayRequest) control.PlayReply {
			return control.PlayReply{Answer: testAnswer, AudioCodec: "opus", VideoCodec: "VP8", HasAudio: true,
				HasVideo: true}
		},
	}
	dir, err := bus.OpenDirectory(context.Background(), e.nc.Conn, bus.DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(control.NodeRecord{ID: id, Kind: control.KindMediad, Started: time.Now().UnixMilli(),
		MediaSessions: load})
	if _, err := dir.Nodes.Put(context.Background(), control.NodeKey(id), rec); err != nil {
		t.Fatal(err)
	}
	// Heartbeat like a daemon: signal nodes count a media daemon silent for NodeDownAfter as down.
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(control.NodeHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if m.stopBeating.Load() {
					continue
				}
				_, _ = dir.Nodes.Put(context.Background(), control.NodeKey(id), rec)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-stopped })
	if serve {
		sub, err := e.nc.Subscribe("potok.media."+id+".*", m.serve)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	return m
}

// envWithMediad starts an env whose signal node finds one scripted daemon in the directory at
// start (it waits for the initial node list), so placement does not race the KV watcher.
func envWithMediad(t *testing.T, cfg signal.Config, id string, serve bool) (*env, *scriptedMediad) {
	t.Helper()
	var md *scriptedMediad
	e := newEnv(t, cfg, func(e *env) { md = startMediad(t, e, id, serve) })
	return e, md
}

func (m *scriptedMediad) serve(msg *nats.Msg) {
	op := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	m.mu.Lock()
	pubReply, playReply := m.publishReply, m.playReply
	m.mu.Unlock()
	switch op {
	case control.OpPublish:
		var req control.PublishRequest
		_ = json.Unmarshal(msg.Data, &req)
		m.publishes <- req
		if rep := pubReply(req); rep.Answer != "" || rep.Error != "" {
			_ = bus.Reply(msg, rep)
		}
	case control.OpPlay:
		var req control.PlayRequest
		_ = json.Unmarshal(msg.Data, &req)
		m.plays <- req
		_ = bus.Reply(msg, playReply(req))
	case control.OpStop:
		var req control.StopRequest
		_ = json.Unmarshal(msg.Data, &req)
		m.stops <- req
		_ = bus.Reply(msg, control.StopReply{})
	case control.OpStreamEvent:
		var req control.StreamEventRequest
		_ = json.Unmarshal(msg.Data, &req)
		m.events <- req
		_ = bus.Reply(msg, control.StopReply{})
	}
}

func (m *scriptedMediad) setPublishReply(f func(control.PublishRequest) control.PublishReply) {
	m.mu.Lock()
	m.publishReply = f
	m.mu.Unlock()
}

func (m *scriptedMediad) setPlayReply(f func(control.PlayRequest) control.PlayReply) {
	m.mu.Lock()
	m.playReply = f
	m.mu.Unlock()
}

// emit sends a media event to the signal node that owns the media session.
func (m *scriptedMediad) emit(o control.Owner, ev control.MediaEvent) {
	m.t.Helper()
	ev.Owner = o
	if err := bus.Publish(m.nc.Conn, control.SignalEventsSubject(o.SignalNode), ev); err != nil {
		m.t.Fatal(err)
	}
}

func (m *scriptedMediad) connected(o control.Owner, publisher bool) {
	m.emit(o, control.MediaEvent{Kind: control.EventState, State: control.StateConnected, Publisher: publisher})
}

func recv[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("mediad: no %s request", what)
		var zero T
		return zero
	}
}

func noRecv[T any](t *testing.T, ch chan T, what string, d time.Duration) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("mediad: unexpected %s request %+v", what, v)
	case <-time.After(d):
	}
}

// expectAnswer checks setRemoteSDP [id, answer, true] (§C.5).
func (c *client) expectAnswer(id string) {
	c.t.Helper()
	f := c.expect(wcs.MsgSetRemoteSDP)
	var gotID, sdp string
	var initiator bool
	f.arg(c.t, 0, &gotID)
	f.arg(c.t, 1, &sdp)
	f.arg(c.t, 2, &initiator)
	if gotID != id || sdp != testAnswer || !initiator || len(f.Data) != 3 {
		c.t.Fatalf("setRemoteSDP %s", f.raw)
	}
}

func (c *client) available(name string) string {
	c.t.Helper()
	c.send(wcs.MsgAvailableStream, map[string]any{"mediaSessionId": "av-" + name, "name": name})
	var av wcs.AvailableStream
	c.expect(wcs.MsgAvailableStream).arg(c.t, 0, &av)
	return av.Status
}

// The whole publish → play → events → unpublish path (§E.2, §E.3, §E.4, §C.6–§C.9, §C.18).
func TestPublishPlayFlow(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{NodeID: "sig-a"}, "md-1", true)
	pub, play := e.dial(t), e.dial(t)
	pubToken := pub.connect(nil)["authToken"].(string)
	play.connect(nil)

	req := publishReq("m1", "s1")
	req["record"] = true
	req["custom"] = map[string]any{"room": "r"}
	pub.send(wcs.MsgPublishStream, req)
	pr := recv(t, md.publishes, "publish")
	if pr.SignalNode != "sig-a" || pr.SessionID != pubToken || pr.MediaSessionID != "m1" || pr.StreamName != "s1" ||
		pr.Offer != "v=0\r\n" || !pr.Record {
		t.Errorf("PublishRequest %+v", pr)
	}
	pub.expectAnswer("m1")
	pub.quiet(100 * time.Millisecond) // PENDING until the media is connected
	if e.metric(metrics.NameMediaSessions, metrics.KindPublish) != 1 {
		t.Errorf("media_sessions{publish} != 1")
	}
	md.connected(pr.Owner, true)
	st := pub.streamStatus()
	if st.Status != wcs.StatusPublishing || st.MediaSessionID != "m1" || st.Name != "s1" || !st.Published ||
		!st.HasAudio || !st.HasVideo || st.AudioCodec != "opus" || st.VideoCodec != "VP8" || st.Record ||
		st.CreateDate == 0 || st.MediaProvider != "WebRTC" || st.AudioState == nil || st.AudioState.Muted ||
		string(st.Custom) != `{"room":"r"}` {
		t.Errorf("PUBLISHING %+v", st)
	}
	md.connected(pr.Owner, true) // a duplicate state event changes nothing
	md.emit(pr.Owner, control.MediaEvent{Kind: control.EventRate, Publisher: true,
		Rate: &control.Rate{VideoRate: 500000, FPS: 30, Width: 640, Height: 480}})
	var rate wcs.VideoRate
	pub.expect(wcs.MsgInboundVideoRate).arg(t, 0, &rate)
	if rate.MediaSessionID != "m1" || rate.VideoRate != 500000 || rate.FPS != 30 {
		t.Errorf("inboundVideoRate %+v", rate)
	}

	md.setPlayReply(func(control.PlayRequest) control.PlayReply {
		return control.PlayReply{Answer: testAnswer, AudioCodec: "opus", VideoCodec: "VP8", HasAudio: true,
			HasVideo: true, AudioMuted: true, Width: 640, Height: 480}
	})
	play.send(wcs.MsgPlayStream, playReq("p1", "s1"))
	plr := recv(t, md.plays, "play")
	if plr.StreamName != "s1" || plr.MediaSessionID != "p1" || plr.SignalNode != "sig-a" {
		t.Errorf("PlayRequest %+v", plr)
	}
	play.expectAnswer("p1")
	md.connected(plr.Owner, false)
	st = play.streamStatus()
	if st.Status != wcs.StatusPlaying || st.MediaSessionID != "p1" || st.Published || !st.AudioState.Muted ||
		st.VideoState.Muted || st.Width != 640 {
		t.Errorf("PLAYING %+v", st)
	}
	play.expectResize(t, "p1", 640, 480)

	md.emit(plr.Owner, control.MediaEvent{Kind: control.EventFormat, Width: 1280, Height: 720})
	play.expectResize(t, "p1", 1280, 720)

	pub.send(wcs.MsgSendStreamEvent, map[string]any{"mediaSessionId": "m1", "type": "audioMuted"})
	if ev := recv(t, md.events, "streamEvent"); ev.MediaSessionID != "m1" || ev.Type != "audioMuted" {
		t.Errorf("StreamEventRequest %+v", ev)
	}
	md.emit(plr.Owner, control.MediaEvent{Kind: control.EventStreamEvent,
		StreamEvent: &control.StreamEventMsg{Type: "data", Payload: json.RawMessage(`{"x":1}`)}})
	var sev wcs.StreamEvent
	play.expect(wcs.MsgNotifyStreamEvent).arg(t, 0, &sev)
	if sev.MediaSessionID != "p1" || sev.Type != "data" || string(sev.Payload) != `{"x":1}` {
		t.Errorf("notifyStreamEvent %+v", sev)
	}
	md.emit(plr.Owner, control.MediaEvent{Kind: control.EventRate, Rate: &control.Rate{VideoRate: 1}})
	play.expect(wcs.MsgOutboundVideoRate)
	// A player cannot send stream events for a stream it does not publish.
	play.send(wcs.MsgSendStreamEvent, map[string]any{"mediaSessionId": "p1", "type": "audioMuted"})
	noRecv(t, md.events, "streamEvent", 100*time.Millisecond)

	pub.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": "m1", "name": "s1", "status": "PUBLISHING"})
	if sr := recv(t, md.stops, "stop"); sr.MediaSessionID != "m1" || sr.Info != wcs.InfoStoppedByPublisherStop {
		t.Errorf("StopRequest %+v", sr)
	}
	st = pub.streamStatus()
	if st.Status != wcs.StatusUnpublished || st.Info != wcs.InfoStoppedByPublisherStop || st.MediaSessionID != "m1" {
		t.Errorf("UNPUBLISHED %+v", st)
	}
	if got := play.available("s1"); got != "false" {
		t.Errorf("stream name not released: available = %s", got)
	}
	// The daemon ends the players of the stopped publisher (§E.4, §I.1).
	md.emit(plr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateClosed,
		Info: wcs.InfoStoppedByPublisherStop})
	st = play.streamStatus()
	if st.Status != wcs.StatusFailed || st.Info != wcs.InfoStoppedByPublisherStop || st.MediaSessionID != "p1" {
		t.Errorf("player after publisher stop %+v", st)
	}
	// Exactly one terminal status: later events for the id are dropped.
	md.emit(plr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateFailed})
	md.emit(pr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateClosed})
	pub.quiet(100 * time.Millisecond)
	play.quiet(100 * time.Millisecond)
	if e.metric(metrics.NameMediaSessions, metrics.KindPublish) != 0 || e.metric(metrics.NameMediaSessions, metrics.KindPlay) != 0 {
		t.Errorf("media_sessions gauge not back to 0")
	}
	if n := e.metric(metrics.NameMediadRPC, control.OpPublish); n != 1 {
		t.Errorf("mediad_rpc_duration_seconds{op=publish} count = %v", n)
	}
	if n := e.metric(metrics.NameMediadRPC, control.OpStop); n != 1 {
		t.Errorf("mediad_rpc_duration_seconds{op=stop} count = %v", n)
	}
	// The name can be published again.
	pub.send(wcs.MsgPublishStream, publishReq("m2", "s1"))
	recv(t, md.publishes, "publish")
	pub.expectAnswer("m2")
}

func (c *client) expectResize(t *testing.T, id string, w, h int) {
	t.Helper()
	var vf wcs.VideoFormat
	c.expect(wcs.MsgNotifyVideoFormat).arg(t, 0, &vf)
	if vf.MediaSessionID != id || vf.Status != "RESIZE" || vf.StreamerVideoWidth != w || vf.StreamerVideoHeight != h {
		t.Errorf("notifyVideoFormat %+v", vf)
	}
	var ev struct {
		MediaSessionID string         `json:"mediaSessionId"`
		Type           string         `json:"type"`
		Payload        map[string]int `json:"payload"`
	}
	c.expect(wcs.MsgNotifyStreamEvent).arg(t, 0, &ev)
	if ev.MediaSessionID != id || ev.Type != "resize" || ev.Payload["streamerVideoWidth"] != w ||
		ev.Payload["streamerVideoHeight"] != h {
		t.Errorf("resize event %+v", ev)
	}
}

// A second publisher of a name gets "Stream name is already in use"; the first is unaffected
// (§E.6). A mediaSessionId cannot be reused within a session (§B.4).
func TestDuplicateNameAndID(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c1, c2 := e.dial(t), e.dial(t)
	c1.connect(nil)
	c2.connect(nil)
	c1.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c1.expectAnswer("m1")

	c2.send(wcs.MsgPublishStream, publishReq("m2", "s1"))
	st := c2.streamStatus()
	if st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNameAlreadyInUse || st.MediaSessionID != "m2" {
		t.Errorf("duplicate name %+v", st)
	}
	noRecv(t, md.publishes, "publish", 50*time.Millisecond)

	c1.send(wcs.MsgPublishStream, publishReq("m1", "other"))
	if f := c1.fail(); f.ID != "m1" || f.Info != wcs.InfoMediaSessionIDInUse || f.APIMethod != wcs.APIStreamStatusEvent {
		t.Errorf("duplicate id %+v", f)
	}
	c1.send(wcs.MsgPlayStream, playReq("m1", "s1"))
	if f := c1.fail(); f.ID != "m1" || f.Info != wcs.InfoMediaSessionIDInUse {
		t.Errorf("duplicate id on play %+v", f)
	}
	md.connected(pr.Owner, true)
	if st := c1.streamStatus(); st.Status != wcs.StatusPublishing {
		t.Errorf("first publisher %+v", st)
	}
}

// stop while PENDING still yields the terminal status (§E.5: "instant publish stop").
func TestInstantStop(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": "m1", "status": "PENDING"})
	c.expectAnswer("m1")
	if st := c.streamStatus(); st.Status != wcs.StatusUnpublished {
		t.Errorf("instant publish stop %+v", st)
	}
	recv(t, md.stops, "stop")
	md.connected(pr.Owner, true) // too late: ignored
	c.quiet(100 * time.Millisecond)

	c.send(wcs.MsgPublishStream, publishReq("m2", "s2"))
	recv(t, md.publishes, "publish")
	c.expectAnswer("m2")
	c.send(wcs.MsgPlayStream, playReq("p1", "s2"))
	recv(t, md.plays, "play")
	c.send(wcs.MsgStopStream, map[string]any{"mediaSessionId": "p1"})
	c.expectAnswer("p1")
	if st := c.streamStatus(); st.Status != wcs.StatusStopped || st.Info != wcs.InfoStoppedByUser {
		t.Errorf("instant play stop %+v", st)
	}
	if sr := recv(t, md.stops, "stop"); sr.MediaSessionID != "p1" || sr.Info != wcs.InfoStoppedByUser {
		t.Errorf("StopRequest %+v", sr)
	}
	// A second stop of the same id is ignored.
	c.send(wcs.MsgStopStream, map[string]any{"mediaSessionId": "p1"})
	c.quiet(100 * time.Millisecond)
}

// No stream stays PENDING: the watchdog fails it and stops it at the daemon (§0 rule 10).
func TestMediaTimeout(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{MediaTimeout: 300 * time.Millisecond}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	st := c.streamStatus()
	if st.Status != wcs.StatusFailed || st.Info != wcs.InfoICETimeout {
		t.Errorf("watchdog %+v", st)
	}
	if sr := recv(t, md.stops, "stop"); sr.MediaSessionID != "m1" {
		t.Errorf("StopRequest %+v", sr)
	}
	if got := c.available("s1"); got != "false" {
		t.Errorf("name kept after timeout: %s", got)
	}
}

// Daemon failures: an error reply, a failed state, no reply at all (§E.2 failure paths).
func TestMediadFailures(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)

	md.setPublishReply(func(control.PublishRequest) control.PublishReply {
		return control.PublishReply{Error: wcs.InfoNoCommonCodecs}
	})
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	recv(t, md.publishes, "publish")
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoNoCommonCodecs {
		t.Errorf("error reply %+v", st)
	}
	if got := c.available("s1"); got != "false" {
		t.Errorf("name kept after error: %s", got)
	}

	md.setPublishReply(func(control.PublishRequest) control.PublishReply {
		return control.PublishReply{Answer: testAnswer}
	})
	c.send(wcs.MsgPublishStream, publishReq("m2", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m2")
	md.emit(pr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateFailed, Info: wcs.InfoICEError})
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoICEError {
		t.Errorf("failed state %+v", st)
	}
	md.emit(pr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateClosed})
	c.quiet(100 * time.Millisecond)

	md.setPlayReply(func(control.PlayRequest) control.PlayReply {
		return control.PlayReply{Error: "Publish stream is not ready"}
	})
	c.send(wcs.MsgPublishStream, publishReq("m3", "s3"))
	recv(t, md.publishes, "publish")
	c.expectAnswer("m3")
	c.send(wcs.MsgPlayStream, playReq("p3", "s3"))
	recv(t, md.plays, "play")
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != "Publish stream is not ready" || st.MediaSessionID != "p3" {
		t.Errorf("play error reply %+v", st)
	}

	// A daemon that is listed but not on NATS (no responders: after a NATS restart, before it has
	// reconnected): the control plane cannot reach it, the client may try again.
	e2, _ := envWithMediad(t, signal.Config{}, "md-mute", false)
	c2 := e2.dial(t)
	c2.connect(nil)
	c2.send(wcs.MsgPublishStream, publishReq("m9", "s9"))
	if st := c2.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoControlPlaneDown {
		t.Errorf("no responders %+v", st)
	}
	if got := c2.available("s9"); got != "false" {
		t.Errorf("name kept after lost request: %s", got)
	}
}

// Socket closed while publishing and playing: media stopped, names released, nothing left
// (§E.8). Players elsewhere learn it from the daemon (covered by TestPublishPlayFlow).
func TestDisconnectWhilePublishing(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c, other := e.dial(t), e.dial(t)
	c.connect(nil)
	other.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	c.streamStatus()
	c.send(wcs.MsgPlayStream, playReq("p1", "s1"))
	recv(t, md.plays, "play")
	c.expectAnswer("p1")

	_ = c.ws.CloseNow()
	stops := map[string]string{}
	for range 2 {
		sr := recv(t, md.stops, "stop")
		stops[sr.MediaSessionID] = sr.Info
	}
	if stops["m1"] != wcs.InfoStoppedByPublisherStop || stops["p1"] != wcs.InfoStoppedBySessionDisconn {
		t.Errorf("stops %v", stops)
	}
	eventually(t, "session removed", func() bool { return e.srv.Sessions() == 1 })
	if got := other.available("s1"); got != "false" {
		t.Errorf("name kept after disconnect: %s", got)
	}
	if e.metric(metrics.NameMediaSessions, metrics.KindPublish) != 0 || e.metric(metrics.NameMediaSessions, metrics.KindPlay) != 0 {
		t.Error("media_sessions gauge not back to 0")
	}
	// Events for the gone session go nowhere and hurt nothing.
	md.connected(pr.Owner, true)
	other.quiet(100 * time.Millisecond)
}

// Shutdown: every media session gets its terminal status before the GoingAway close, media is
// stopped, names released, no goroutine left (env cleanup checks).
func TestShutdownWithMedia(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	c.streamStatus()
	c.send(wcs.MsgPlayStream, playReq("p1", "s1"))
	recv(t, md.plays, "play")
	c.expectAnswer("p1")

	done := make(chan struct{})
	go func() {
		defer close(done)
		e.stop(false)
	}()
	got := map[string]wcs.Stream{}
	for range 2 {
		st := c.streamStatus()
		got[st.MediaSessionID] = st
	}
	if got["m1"].Status != wcs.StatusUnpublished || got["p1"].Status != wcs.StatusStopped ||
		got["m1"].Info != wcs.InfoStoppedBySessionDisconn {
		t.Errorf("terminal statuses %+v", got)
	}
	if code := c.waitClosed(waitFor); code != 1001 {
		t.Errorf("close status %v, want 1001 GoingAway", code)
	}
	<-done
	for range 2 {
		recv(t, md.stops, "stop")
	}
}

// A name claimed by a node that no longer heartbeats is taken over; a live owner keeps its name
// (design.md "Failure": a crashed node cannot release its names).
func TestStaleNameTakenOver(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	dir, err := bus.OpenDirectory(context.Background(), e.nc.Conn, bus.DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(rec control.StreamRecord) {
		b, _ := json.Marshal(rec)
		if _, err := dir.Streams.Create(context.Background(), control.StreamKey(rec.Name), b); err != nil {
			t.Fatal(err)
		}
	}
	claim(control.StreamRecord{Name: "dead", MediaNode: "md-gone", SignalNode: "signal-gone", SessionID: "x"})
	claim(control.StreamRecord{Name: "live", MediaNode: "md-1", SignalNode: "signal-test", SessionID: "y"})
	// Claims of previous lives of live node ids: this signal node before a restart, and md-1
	// before a restart. Both owners are gone although their ids heartbeat.
	claim(control.StreamRecord{Name: "old-signal-life", MediaNode: "md-1", SignalNode: "signal-test", SignalStarted: 1, SessionID: "v"})
	claim(control.StreamRecord{Name: "old-media-life", MediaNode: "md-1", MediaStarted: 1, SignalNode: "signal-test", SessionID: "w"})
	// Unknown owners, but claimed just now: maybe a node not seen yet, so the claim stands.
	claim(control.StreamRecord{Name: "fresh", MediaNode: "md-new", SignalNode: "signal-new", SessionID: "z",
		Created: time.Now().UnixMilli()})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "dead"))
	recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	for i, name := range []string{"old-signal-life", "old-media-life"} {
		id := fmt.Sprintf("m-old-%d", i)
		c.send(wcs.MsgPublishStream, publishReq(id, name))
		recv(t, md.publishes, "publish")
		c.expectAnswer(id)
	}
	for _, name := range []string{"live", "fresh"} {
		c.send(wcs.MsgPublishStream, publishReq("m-"+name, name))
		if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNameAlreadyInUse {
			t.Errorf("%s owner's name: %+v", name, st)
		}
	}
	e2, err := dir.Streams.Get(context.Background(), control.StreamKey("dead"))
	if err != nil {
		t.Fatal(err)
	}
	var rec control.StreamRecord
	_ = json.Unmarshal(e2.Value(), &rec)
	if rec.MediaSessionID != "m1" || rec.MediaNode != "md-1" || rec.SignalNode != "signal-test" {
		t.Errorf("record after takeover %+v", rec)
	}
}

// A media daemon that leaves the directory takes its media sessions with it: FAILED, names freed.
func TestMediadLost(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	c.streamStatus()
	c.send(wcs.MsgPlayStream, playReq("p1", "s1"))
	recv(t, md.plays, "play")
	c.expectAnswer("p1")

	dir, err := bus.OpenDirectory(context.Background(), e.nc.Conn, bus.DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	md.stopBeating.Store(true)
	if err := dir.Nodes.Delete(context.Background(), control.NodeKey("md-1")); err != nil {
		t.Fatal(err)
	}
	got := map[string]wcs.Stream{}
	for range 2 {
		st := c.streamStatus()
		got[st.MediaSessionID] = st
	}
	if got["m1"].Status != wcs.StatusFailed || got["p1"].Status != wcs.StatusFailed || got["m1"].Info != wcs.InfoMediaNodeLost ||
		got["p1"].Info != wcs.InfoMediaNodeLost {
		t.Errorf("after mediad loss %+v", got)
	}
	if s := c.available("s1"); s != "false" {
		t.Errorf("name kept after mediad loss: %s", s)
	}
	c.send(wcs.MsgPublishStream, publishReq("m2", "s1"))
	if st := c.streamStatus(); st.Info != session.InfoNoMediaNode {
		t.Errorf("publish with the only mediad gone: %+v", st)
	}
}

// A media daemon that stops heartbeating without leaving (kill -9) is down after NodeDownAfter:
// its clients get FAILED "Media server lost", its names are free at once, and a republish lands
// on the daemon that is still alive.
func TestSilentMediadIsDown(t *testing.T) {
	var dead, alive *scriptedMediad
	e := newEnv(t, signal.Config{}, func(e *env) {
		dead = startLoadedMediad(t, e, "md-dead", true, 0)
		alive = startLoadedMediad(t, e, "md-alive", true, 5)
	})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, dead.publishes, "publish on the least loaded daemon")
	c.expectAnswer("m1")
	dead.connected(pr.Owner, true)
	if st := c.streamStatus(); st.Status != wcs.StatusPublishing {
		t.Fatalf("%+v", st)
	}
	killed := time.Now()
	dead.stopBeating.Store(true)
	st := c.streamStatus()
	noticed := time.Since(killed)
	if st.MediaSessionID != "m1" || st.Status != wcs.StatusFailed || st.Info != wcs.InfoMediaNodeLost {
		t.Fatalf("after the daemon went silent: %+v", st)
	}
	if noticed < control.NodeDownAfter-2*control.NodeHeartbeat {
		t.Errorf("declared down %v after its last heartbeat could have been missed, sooner than NodeDownAfter %v", noticed, control.NodeDownAfter)
	}
	c.send(wcs.MsgPublishStream, publishReq("m2", "s1"))
	recv(t, alive.publishes, "republish on the surviving daemon")
	c.expectAnswer("m2")
}

// New publishers go to the least loaded daemon, counting what this node placed since the last
// heartbeat (so a burst is spread out).
func TestLeastLoadedMediad(t *testing.T) {
	var busy, idle *scriptedMediad
	e := newEnv(t, signal.Config{}, func(e *env) {
		busy = startLoadedMediad(t, e, "md-busy", true, 3)
		idle = startLoadedMediad(t, e, "md-idle", true, 0)
	})
	c := e.dial(t)
	c.connect(nil)
	counts := map[string]int{}
	for i := range 5 {
		id := string(rune('a' + i))
		c.send(wcs.MsgPublishStream, publishReq("m"+id, "s"+id))
		c.expectAnswer("m" + id)
		select {
		case <-busy.publishes:
			counts["md-busy"]++
		case <-idle.publishes:
			counts["md-idle"]++
		}
	}
	// idle takes 3 (its load 0,1,2 < 3); at 3:3 the lower id wins (busy → 4); then idle again.
	if counts["md-idle"] != 4 || counts["md-busy"] != 1 {
		t.Errorf("placement %v", counts)
	}
}

// A media daemon restarted under the same id within the heartbeat TTL never looks dead, but its
// new life knows none of the old sessions: they end FAILED and their names are freed.
func TestMediadRestartedUnderSameID(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	c.streamStatus()
	dir, err := bus.OpenDirectory(context.Background(), e.nc.Conn, bus.DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(control.NodeRecord{ID: "md-1", Kind: control.KindMediad, Started: time.Now().UnixMilli() + 1000})
	if _, err := dir.Nodes.Put(context.Background(), control.NodeKey("md-1"), rec); err != nil {
		t.Fatal(err)
	}
	if st := c.streamStatus(); st.MediaSessionID != "m1" || st.Status != wcs.StatusFailed {
		t.Errorf("publisher after its mediad restarted: %+v", st)
	}
	if s := c.available("s1"); s != "false" {
		t.Errorf("name kept after the mediad restarted: %s", s)
	}
}

// Nothing free-form from the control plane reaches a client: an info text that is neither WCS's
// nor Potok's own, in a reply error or a state event, becomes "Failed by error".
func TestControlPlaneTextIsValidated(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c := e.dial(t)
	c.connect(nil)
	md.setPublishReply(func(control.PublishRequest) control.PublishReply {
		return control.PublishReply{Error: "Your session expired, log in at evil.example"}
	})
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	recv(t, md.publishes, "publish")
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoFailedByError {
		t.Fatalf("forged reply error shown: %+v", st)
	}
	md.setPublishReply(func(control.PublishRequest) control.PublishReply {
		return control.PublishReply{Answer: testAnswer, HasVideo: true, VideoCodec: "VP8"}
	})
	c.send(wcs.MsgPublishStream, publishReq("m2", "s2"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m2")
	md.emit(pr.Owner, control.MediaEvent{Kind: control.EventState, State: control.StateFailed, Info: "<script>alert(1)</script>"})
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoFailedByError {
		t.Fatalf("forged event info shown: %+v", st)
	}
}
