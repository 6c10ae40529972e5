package mediad

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
)

// TestPublishPlayForward is the main path: one publisher, three players, forwarding with key
// frame start, rate/format events, NACK from cache, stop of one player, stop of the publisher.
func TestPublishPlayForward(t *testing.T) {
	e := newEnv(t, nil)
	pub := newPublisher(t)
	defer pub.close()
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("pub"), StreamName: "s1", Offer: pub.offer}, &pr)
	if pr.Error != "" || pr.VideoCodec != "VP8" || pr.AudioCodec != "" || !pr.HasVideo || pr.HasAudio {
		t.Fatalf("publish reply %+v", pr)
	}
	for _, want := range []string{"a=recvonly", "typ host", "a=end-of-candidates"} {
		if !strings.Contains(pr.Answer, want) {
			t.Fatalf("publish answer lacks %q:\n%s", want, pr.Answer)
		}
	}
	pub.answer(t, pr.Answer)
	e.wait("pub", control.EventState, control.StateConnected)
	pub.send()
	// The players below join a stream that is already flowing, so the server has to ask the
	// publisher for a key frame for them (§E.3). Wait until it has read the publisher's first one
	// (its rate event carries the picture size): a player attached before that starts on the
	// publisher's opening key frame and needs no request, and the pion players connect in a few
	// milliseconds.
	eventually(t, "publisher picture size at the server", func() bool {
		return len(e.events.match(func(ev control.MediaEvent) bool {
			return ev.MediaSessionID == "pub" && ev.Kind == control.EventRate && ev.Rate != nil && ev.Rate.Width == 320
		})) > 0
	})

	// Duplicate name and id are refused; an unknown stream is not found (§E.6, §E.7).
	var dup control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("pub2"), StreamName: "s1", Offer: pub.offer}, &dup)
	if dup.Error != wcs.InfoStreamNameAlreadyInUse {
		t.Fatalf("duplicate name: %+v", dup)
	}
	var nf control.PlayReply
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("p-nf"), StreamName: "nope", Offer: pub.offer}, &nf)
	if nf.Error != wcs.InfoStreamNotFound {
		t.Fatalf("play unknown stream: %+v", nf)
	}

	players := make([]*player, 3)
	ids := []string{"p0", "p1", "p2"}
	for i := range players {
		players[i] = newPlayer(t)
		defer players[i].close()
		var rep control.PlayReply
		e.request(control.OpPlay, control.PlayRequest{Owner: owner(ids[i]), StreamName: "s1", Offer: players[i].offer}, &rep)
		if rep.Error != "" || rep.VideoCodec != "VP8" || !rep.HasVideo || rep.HasAudio {
			t.Fatalf("play reply %+v", rep)
		}
		if !strings.Contains(rep.Answer, "a=sendonly") || !strings.Contains(rep.Answer, "a=msid:potok-"+ids[i]+" ") ||
			!strings.Contains(rep.Answer, " cname:") {
			t.Fatalf("play answer:\n%s", rep.Answer)
		}
		if err := players[i].pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rep.Answer}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range players {
		e.wait(ids[i], control.EventState, control.StateConnected)
		eventually(t, "320x240 key frame at player "+ids[i], func() bool { return p.keyW.Load() == 320 && p.keyH.Load() == 240 })
		f := e.wait(ids[i], control.EventFormat, "")
		if f.Width != 320 || f.Height != 240 || f.Publisher {
			t.Fatalf("format event %+v", f)
		}
		if got, _ := p.streamID.Load().(string); got != "potok-"+ids[i] {
			t.Fatalf("stream id %q", got)
		}
	}
	if pub.plis.Load() == 0 {
		t.Fatal("publisher never asked for a key frame")
	}
	if n := e.d.PeerConnections(); n != 4 {
		t.Fatalf("%d peer connections, want 4", n)
	}

	// Rate events: about one per second per media session (count over 3 s, not exact timing).
	rates := func(id string) []control.MediaEvent {
		return e.events.match(func(ev control.MediaEvent) bool { return ev.MediaSessionID == id && ev.Kind == control.EventRate })
	}
	mark := time.Now()
	e.checkRateCadence("pub", mark, 4)
	e.checkRateCadence("p0", mark, 4)
	last := rates("pub")[len(rates("pub"))-1]
	if r := last.Rate; r == nil || r.VideoRate < 100_000 || r.FPS < 10 || r.Width != 320 || r.Height != 240 || !last.Publisher {
		t.Fatalf("publisher rate %+v", last.Rate)
	}
	lastP := rates("p1")[len(rates("p1"))-1]
	if r := lastP.Rate; r == nil || r.VideoRate < 100_000 || r.FPS < 10 || r.Width != 320 {
		t.Fatalf("player rate %+v", lastP.Rate)
	}

	// NACK from player 0 for a packet it has: the daemon resends it from its cache.
	p0 := players[0]
	seq := uint16(p0.lastSeq.Load())
	retransmittedBefore := counter(t, e.reg, "potok_mediad_rtp_retransmitted_packets_total")
	if err := p0.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: p0.ssrc.Load(),
		Nacks: []rtcp.NackPair{{PacketID: seq}}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "retransmission of the NACKed packet", func() bool { return p0.seen(seq) >= 2 })
	if counter(t, e.reg, "potok_mediad_rtp_retransmitted_packets_total") <= retransmittedBefore {
		t.Fatal("retransmission not counted")
	}
	eventually(t, "nack in the player's rate", func() bool {
		r := rates("p0")
		return r[len(r)-1].Rate.NACK >= 1
	})

	// Stopping one player leaves the others playing.
	var sr control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: owner("p2"), Info: wcs.InfoStoppedByUser}, &sr)
	if sr.Error != "" {
		t.Fatal(sr.Error)
	}
	eventually(t, "3 peer connections", func() bool { return e.d.PeerConnections() == 3 })
	n1 := players[1].packets.Load()
	eventually(t, "player 1 still receiving", func() bool { return players[1].packets.Load() > n1+10 })

	// Stopping the publisher closes the remaining players with "Stopped by publisher stop".
	e.request(control.OpStop, control.StopRequest{Owner: owner("pub")}, &sr)
	for _, id := range []string{"p0", "p1"} {
		ev := e.wait(id, control.EventState, control.StateClosed)
		if ev.Info != wcs.InfoStoppedByPublisherStop || ev.Owner != owner(id) {
			t.Fatalf("player close event %+v", ev)
		}
	}
	if evs := e.events.match(func(ev control.MediaEvent) bool {
		return ev.MediaSessionID == "p2" && ev.Kind == control.EventState && ev.State != control.StateConnected
	}); len(evs) != 0 {
		t.Fatalf("stopped player got %+v", evs)
	}
	eventually(t, "no peer connections", func() bool { return e.d.PeerConnections() == 0 })
	eventually(t, "gauges back to 0", func() bool {
		return counter(t, e.reg, "potok_mediad_peer_connections") == 0 &&
			counter(t, e.reg, "potok_mediad_published_tracks") == 0 &&
			counter(t, e.reg, "potok_mediad_media_sessions") == 0
	})
	e.request(control.OpStop, control.StopRequest{Owner: owner("unknown")}, &sr)
	if sr.Error != "" {
		t.Fatalf("stop of an unknown id: %q", sr.Error)
	}
	for _, m := range []string{"potok_mediad_rtp_received_packets_total", "potok_mediad_rtp_sent_packets_total",
		"potok_mediad_rtp_sent_bytes_total", "potok_mediad_rtcp_feedback_received_total", "potok_mediad_keyframe_requests_sent_total"} {
		if counter(t, e.reg, m) == 0 {
			t.Errorf("%s is 0", m)
		}
	}
	pub.close()
	for _, p := range players {
		p.close()
	}
	e.closeAndCheckLeaks()
}

func TestICETimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ICETimeout = 700 * time.Millisecond })
	pub := newPublisher(t)
	defer pub.close()
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("m1"), StreamName: "s", Offer: pub.offer}, &pr)
	if pr.Error != "" {
		t.Fatal(pr.Error)
	}
	// The client never applies the answer: nothing connects.
	ev := e.wait("m1", control.EventState, control.StateFailed)
	if ev.Info != wcs.InfoICETimeout || !ev.Publisher {
		t.Fatalf("event %+v", ev)
	}
	eventually(t, "peer connection closed", func() bool { return e.d.PeerConnections() == 0 })
	if counter(t, e.reg, "potok_mediad_ice_failures_total") != 1 {
		t.Fatal("ICE failure not counted")
	}
	// The name is free again.
	var pr2 control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("m2"), StreamName: "s", Offer: pub.offer}, &pr2)
	if pr2.Error != "" {
		t.Fatalf("republish after timeout: %q", pr2.Error)
	}
	pub.close()
	e.closeAndCheckLeaks()
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, nil)
	pub := newPublisher(t)
	defer pub.close()
	cases := []struct {
		name string
		req  control.PublishRequest
		want string
	}{
		{"no id", control.PublishRequest{StreamName: "s", Offer: pub.offer}, wcs.InfoMediaSessionIDNull},
		{"garbage sdp", control.PublishRequest{Owner: owner("a"), StreamName: "s", Offer: "v=0 nope"}, wcs.InfoFailedByError},
		{"huge sdp", control.PublishRequest{Owner: owner("b"), StreamName: "s", Offer: strings.Repeat("a", 70000)}, wcs.InfoFailedByError},
		{"no common codec", control.PublishRequest{Owner: owner("c"), StreamName: "s",
			Offer: offerWith(t, webrtc.MimeTypeVP9, webrtc.RTPTransceiverDirectionSendonly)}, wcs.InfoNoCommonCodecs},
	}
	for _, c := range cases {
		var rep control.PublishReply
		e.request(control.OpPublish, c.req, &rep)
		if rep.Error != c.want || rep.Answer != "" {
			t.Errorf("%s: reply %+v, want %q", c.name, rep, c.want)
		}
	}
	var rep control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("ok"), StreamName: "s", Offer: pub.offer}, &rep)
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("ok"), StreamName: "s2", Offer: pub.offer}, &rep)
	if rep.Error != wcs.InfoMediaSessionIDInUse {
		t.Fatalf("id reuse: %+v", rep)
	}
	// A player offering only H.264 cannot play a VP8 stream.
	var prep control.PlayReply
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("p"), StreamName: "s",
		Offer: offerWith(t, webrtc.MimeTypeH264, webrtc.RTPTransceiverDirectionRecvonly)}, &prep)
	if prep.Error != wcs.InfoNoCommonCodecs {
		t.Fatalf("play with no common codec: %+v", prep)
	}
	if n := e.d.PeerConnections(); n != 1 {
		t.Fatalf("%d peer connections, want only the publisher's", n)
	}
	pub.close()
	e.closeAndCheckLeaks()
}

// offerWith is a video offer carrying a single codec.
func offerWith(t *testing.T, mime string, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{PayloadType: 102, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: mime, ClockRate: 90000, SDPFmtpLine: "packetization-mode=1;profile-level-id=42e01f"}}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

func TestStreamEventsAndPublisherStop(t *testing.T) {
	e := newEnv(t, nil)
	pub := newPublisher(t)
	defer pub.close()
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("pub"), StreamName: "s", Offer: pub.offer}, &pr)
	pub.answer(t, pr.Answer)
	pl := newPlayer(t)
	defer pl.close()
	other := control.Owner{SignalNode: signalNode, SessionID: "ws-2", MediaSessionID: "pl"}
	var rep control.PlayReply
	e.request(control.OpPlay, control.PlayRequest{Owner: other, StreamName: "s", Offer: pl.offer}, &rep)
	if rep.Error != "" || rep.VideoMuted {
		t.Fatalf("play %+v", rep)
	}
	var sr control.StopReply
	e.request(control.OpStreamEvent, control.StreamEventRequest{Owner: owner("pub"), Type: wcs.EventVideoMuted}, &sr)
	if sr.Error != "" {
		t.Fatal(sr.Error)
	}
	ev := e.wait("pl", control.EventStreamEvent, "")
	if ev.StreamEvent == nil || ev.StreamEvent.Type != wcs.EventVideoMuted || ev.Owner != other {
		t.Fatalf("stream event %+v", ev)
	}
	payload := json.RawMessage(`{"x":1}`)
	e.request(control.OpStreamEvent, control.StreamEventRequest{Owner: owner("pub"), Type: "data", Payload: payload}, &sr)
	eventually(t, "data event", func() bool {
		return len(e.events.match(func(ev control.MediaEvent) bool {
			return ev.Kind == control.EventStreamEvent && ev.StreamEvent.Type == "data" && string(ev.StreamEvent.Payload) == `{"x":1}`
		})) == 1
	})
	// A late joiner learns the mute state from the play reply.
	pl2 := newPlayer(t)
	defer pl2.close()
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("pl2"), StreamName: "s", Offer: pl2.offer}, &rep)
	if !rep.VideoMuted || rep.AudioMuted {
		t.Fatalf("late joiner mute state %+v", rep)
	}
	// The publisher's WS session goes away (signal stops each of its media sessions, §E.8): the
	// players on other sessions are closed.
	e.request(control.OpStop, control.StopRequest{Owner: owner("pub"), Info: wcs.InfoStoppedByPublisherStop}, &sr)
	ev = e.wait("pl", control.EventState, control.StateClosed)
	if ev.Info != wcs.InfoStoppedByPublisherStop {
		t.Fatalf("%+v", ev)
	}
	eventually(t, "no peer connections", func() bool { return e.d.PeerConnections() == 0 })
	pub.close()
	pl.close()
	pl2.close()
	e.closeAndCheckLeaks()
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	dir, err := busDirectory(e)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := dir.Nodes.Get(ctx, control.NodeKey(e.d.NodeID()))
	if err != nil {
		t.Fatal(err)
	}
	var rec control.NodeRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil || rec.Kind != control.KindMediad || rec.ID != "mediad-test" {
		t.Fatalf("node record %s: %v", entry.Value(), err)
	}
	if e.d.UDPAddr() == nil || e.d.UDPAddr().Port == 0 || e.d.TCPAddr() != nil {
		t.Fatalf("addresses %v %v", e.d.UDPAddr(), e.d.TCPAddr())
	}
	e.closeAndCheckLeaks()
	if _, err := dir.Nodes.Get(ctx, control.NodeKey(e.d.NodeID())); err == nil {
		t.Fatal("node record left after Close")
	}
}

// TestH264WithAudio: an H.264 + Opus publisher (what Chrome sends when the app strips VP8); the
// player gets both tracks in one MediaStream, audio packets, and the SPS picture size.
func TestH264WithAudio(t *testing.T) {
	e := newEnv(t, nil)
	me := &webrtc.MediaEngine{}
	for _, c := range []struct {
		kind webrtc.RTPCodecType
		p    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 125, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack", Parameter: "pli"}}}}},
	} {
		if err := me.RegisterCodec(c.p, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pub := newPublisherWith(t, webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)), webrtc.MimeTypeH264, true)
	defer pub.close()
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("pub"), StreamName: "h", Offer: pub.offer}, &pr)
	if pr.Error != "" || pr.VideoCodec != "H264" || pr.AudioCodec != "opus" || !pr.HasAudio || !pr.HasVideo {
		t.Fatalf("publish reply %+v", pr)
	}
	pub.answer(t, pr.Answer)
	e.wait("pub", control.EventState, control.StateConnected)
	pub.send()
	eventually(t, "publisher picture size", func() bool {
		evs := e.events.match(func(ev control.MediaEvent) bool {
			return ev.MediaSessionID == "pub" && ev.Kind == control.EventRate && ev.Rate.Width == 1280 && ev.Rate.Height == 720
		})
		return len(evs) > 0
	})
	pl := newPlayer(t)
	defer pl.close()
	var rep control.PlayReply
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("pl"), StreamName: "h", Offer: pl.offer}, &rep)
	if rep.Error != "" || rep.VideoCodec != "H264" || rep.AudioCodec != "opus" || !rep.HasAudio || !rep.HasVideo ||
		rep.Width != 1280 || rep.Height != 720 {
		t.Fatalf("play reply %+v", rep)
	}
	if err := pl.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rep.Answer}); err != nil {
		t.Fatal(err)
	}
	f := e.wait("pl", control.EventFormat, "")
	if f.Width != 1280 || f.Height != 720 {
		t.Fatalf("format %+v", f)
	}
	eventually(t, "H.264 key frame and audio at the player", func() bool {
		return pl.keyW.Load() == 1280 && pl.keyH.Load() == 720 && pl.audioPkts.Load() > 10
	})
	a, _ := pl.streams.Load("audio")
	v, _ := pl.streams.Load("video")
	if a != "potok-pl" || v != "potok-pl" {
		t.Fatalf("stream ids audio %v video %v, want one MediaStream", a, v)
	}
	pub.close()
	pl.close()
	e.closeAndCheckLeaks()
}

// TestSignalNodeGone: when the record of a signal node that owned media sessions disappears, the
// daemon ends those sessions; players on other nodes are closed "Stopped by publisher stop".
func TestSignalNodeGone(t *testing.T) {
	e := newEnv(t, fastHeartbeat)
	ctx := context.Background()
	dir, err := busDirectory(e)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(control.NodeRecord{ID: "signal-x", Kind: control.KindSignal})
	if _, err := dir.Nodes.Put(ctx, control.NodeKey("signal-x"), rec); err != nil {
		t.Fatal(err)
	}
	pub := newPublisher(t)
	defer pub.close()
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: control.Owner{SignalNode: "signal-x", SessionID: "ws-x",
		MediaSessionID: "pub"}, StreamName: "s", Offer: pub.offer}, &pr)
	if pr.Error != "" {
		t.Fatal(pr.Error)
	}
	pl := newPlayer(t)
	defer pl.close()
	var rep control.PlayReply
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("pl"), StreamName: "s", Offer: pl.offer}, &rep)
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	e.waitSweeps(2) // the daemon has read signal-x's record since both sessions exist
	if e.d.PeerConnections() != 2 {
		t.Fatalf("%d peer connections before the node went away", e.d.PeerConnections())
	}
	if err := dir.Nodes.Delete(ctx, control.NodeKey("signal-x")); err != nil {
		t.Fatal(err)
	}
	ev := e.wait("pl", control.EventState, control.StateClosed)
	if ev.Info != wcs.InfoStoppedByPublisherStop {
		t.Fatalf("%+v", ev)
	}
	eventually(t, "no peer connections", func() bool { return e.d.PeerConnections() == 0 })
	pub.close()
	pl.close()
	e.closeAndCheckLeaks()
}

// TestDTLSFailure: the offer's fingerprint does not match the client's certificate, so ICE
// connects and DTLS fails: FAILED "Failed by DTLS error".
func TestDTLSFailure(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ICETimeout = 5 * time.Second })
	pub := newPublisher(t)
	defer pub.close()
	lines := strings.Split(pub.offer, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "a=fingerprint:sha-256 ") {
			lines[i] = "a=fingerprint:sha-256 " + strings.Repeat("AB:", 31) + "AB"
		}
	}
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: owner("m"), StreamName: "s", Offer: strings.Join(lines, "\r\n")}, &pr)
	if pr.Error != "" {
		t.Fatal(pr.Error)
	}
	pub.answer(t, pr.Answer)
	ev := e.wait("m", control.EventState, control.StateFailed)
	if ev.Info != wcs.InfoDTLSError {
		t.Fatalf("event %+v", ev)
	}
	eventually(t, "peer connection closed", func() bool { return e.d.PeerConnections() == 0 })
	pub.close()
	e.closeAndCheckLeaks()
}

// TestSignalNodeRestarted: a signal node restarted under the same id keeps its record alive, but
// the sessions of its previous life (an older Owner.SignalStarted) have no WebSocket any more and
// are ended; sessions of the current life stay.
func TestSignalNodeRestarted(t *testing.T) {
	e := newEnv(t, fastHeartbeat)
	ctx := context.Background()
	dir, err := busDirectory(e)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(control.NodeRecord{ID: "signal-r", Kind: control.KindSignal, Started: 2})
	if _, err := dir.Nodes.Put(ctx, control.NodeKey("signal-r"), rec); err != nil {
		t.Fatal(err)
	}
	old, cur := newPublisher(t), newPublisher(t)
	defer old.close()
	defer cur.close()
	for _, p := range []struct {
		id, stream string
		started    int64
		pub        *publisher
	}{{"old", "s-old", 1, old}, {"cur", "s-cur", 2, cur}} {
		var pr control.PublishReply
		e.request(control.OpPublish, control.PublishRequest{Owner: control.Owner{SignalNode: "signal-r", SignalStarted: p.started,
			SessionID: "ws-" + p.id, MediaSessionID: p.id}, StreamName: p.stream, Offer: p.pub.offer}, &pr)
		if pr.Error != "" {
			t.Fatal(pr.Error)
		}
	}
	eventually(t, "the previous life's session ended", func() bool { return e.d.PeerConnections() == 1 })
	e.waitSweeps(2) // more sweeps: the current one stays
	if n := e.d.PeerConnections(); n != 1 {
		t.Fatalf("%d peer connections, want the current life's one", n)
	}
	old.close()
	cur.close()
	e.closeAndCheckLeaks()
}

// TestSameMediaSessionIDTwoOwners: the mediaSessionId is chosen by clients, so two sessions may
// use the same one; each owner's stop reaches only its own media session.
func TestSameMediaSessionIDTwoOwners(t *testing.T) {
	e := newEnv(t, nil)
	a, b := newPublisher(t), newPublisher(t)
	defer a.close()
	defer b.close()
	ownerA, ownerB := owner("same"), owner("same")
	ownerB.SessionID = "ws-2"
	for _, p := range []struct {
		o      control.Owner
		stream string
		pub    *publisher
	}{{ownerA, "sa", a}, {ownerB, "sb", b}} {
		var pr control.PublishReply
		e.request(control.OpPublish, control.PublishRequest{Owner: p.o, StreamName: p.stream, Offer: p.pub.offer}, &pr)
		if pr.Error != "" {
			t.Fatalf("publish %s: %s", p.stream, pr.Error)
		}
	}
	if n := e.d.PeerConnections(); n != 2 {
		t.Fatalf("%d peer connections, want 2", n)
	}
	var sr control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: ownerA}, &sr)
	eventually(t, "A's session ended", func() bool { return e.d.PeerConnections() == 1 })
	var rep control.PlayReply
	pl := newPlayer(t)
	defer pl.close()
	e.request(control.OpPlay, control.PlayRequest{Owner: owner("viewer"), StreamName: "sb", Offer: pl.offer}, &rep)
	if rep.Error != "" {
		t.Fatalf("B's stream after A's stop: %s", rep.Error)
	}
	a.close()
	b.close()
	pl.close()
	e.closeAndCheckLeaks()
}

// TestForgedStopsRefused: a stop with a free-form info text, or naming the session with another
// incarnation of its signal node, is refused and ends nothing.
func TestForgedStopsRefused(t *testing.T) {
	e := newEnv(t, nil)
	pub := newPublisher(t)
	defer pub.close()
	o := owner("pub")
	o.SignalStarted = 42
	var pr control.PublishReply
	e.request(control.OpPublish, control.PublishRequest{Owner: o, StreamName: "s", Offer: pub.offer}, &pr)
	if pr.Error != "" {
		t.Fatal(pr.Error)
	}
	var sr control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: o, Info: "Call +1 555 0100 to restore your stream"}, &sr)
	if sr.Error == "" {
		t.Fatal("stop with a free-form info accepted")
	}
	wrong := o
	wrong.SignalStarted = 41
	var sr2 control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: wrong, Info: wcs.InfoStoppedByPublisherStop}, &sr2)
	if sr2.Error == "" {
		t.Fatal("stop with another incarnation of the owner accepted")
	}
	if n := e.d.PeerConnections(); n != 1 {
		t.Fatalf("%d peer connections after refused stops, want 1", n)
	}
	var ok control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: o, Info: wcs.InfoStoppedByPublisherStop}, &ok)
	if ok.Error != "" {
		t.Fatalf("the owner's own stop refused: %s", ok.Error)
	}
	eventually(t, "the session ended", func() bool { return e.d.PeerConnections() == 0 })
	pub.close()
	e.closeAndCheckLeaks()
}
