//go:build !js

// Package wcstest is a minimal WCS server for the client's own tests, in the spirit of
// net/http/httptest: real pion peers (full ICE like Potok's, loopback only, answers carrying candidates as
// docs/protocol.md §H.3 requires) and the message sequences of §E.1–§E.5 in one process, without NATS
// or mediad. It records every client frame so tests can assert wire details the real server
// does not expose. It is not Potok's server: the integration tests run against signal+mediad.
package wcstest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient/media"
)

// Server is the fixture. Close it (or let t.Cleanup do it).
type Server struct {
	t   testing.TB
	srv *httptest.Server
	api *webrtc.API

	mu       sync.Mutex
	frames   []wcs.Envelope         // every client frame
	rawPongs []string               // pong frames exactly as received
	pubs     map[string]*fixturePub // by stream name
	pcs      []*webrtc.PeerConnection
	conns    []*fixtureConn
	wg       sync.WaitGroup
}

type fixturePub struct {
	conn    *fixtureConn
	id      string
	pc      *webrtc.PeerConnection
	video   *webrtc.TrackLocalStaticRTP
	audio   *webrtc.TrackLocalStaticRTP
	players map[string]*fixtureConn // mediaSessionId -> connection
}

type fixtureConn struct {
	f  *Server
	ws *websocket.Conn
}

// New starts a fixture server on 127.0.0.1; it closes in t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	me := &webrtc.MediaEngine{}
	for _, c := range []struct {
		cap  webrtc.RTPCodecCapability
		pt   webrtc.PayloadType
		kind webrtc.RTPCodecType
	}{{media.CapabilityVP8, 96, webrtc.RTPCodecTypeVideo}, {media.CapabilityOpus, 111, webrtc.RTPCodecTypeAudio}} {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c.cap, PayloadType: c.pt}, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	isLoop := func(ip net.IP) bool { return ip.IsLoopback() }
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(isLoop)
	se.SetRemoteIPFilter(isLoop)
	se.SetLite(false)
	f := &Server{t: t, pubs: map[string]*fixturePub{}}
	f.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// URL is the ws:// address of the server.
func (f *Server) URL() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") }

// DropSockets cuts every WebSocket without a close handshake, as a dying server would.
func (f *Server) DropSockets() {
	f.mu.Lock()
	conns := f.conns
	f.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.CloseNow()
	}
}

// Close cuts the sockets, closes the peer connections and waits for the fixture goroutines.
func (f *Server) Close() {
	f.DropSockets()
	f.srv.CloseClientConnections()
	f.srv.Close()
	f.mu.Lock()
	pcs := f.pcs
	f.mu.Unlock()
	for _, pc := range pcs {
		_ = pc.Close()
	}
	f.wg.Wait()
}

// Received returns the client frames with this message name, in arrival order.
func (f *Server) Received(msg string) []wcs.Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []wcs.Envelope
	for _, e := range f.frames {
		if e.Message == msg {
			out = append(out, e)
		}
	}
	return out
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c := &fixtureConn{f: f, ws: ws}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	ctx := context.Background()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return
		}
		env, err := wcs.Decode(b, 0)
		if err != nil {
			f.t.Errorf("client sent an undecodable frame %q: %v", b, err)
			continue
		}
		f.mu.Lock()
		f.frames = append(f.frames, env)
		if env.Message == wcs.MsgPong {
			f.rawPongs = append(f.rawPongs, string(b))
		}
		f.mu.Unlock()
		c.handle(env)
	}
}

func (c *fixtureConn) send(msg string, args ...any) {
	b, err := wcs.Encode(msg, args...)
	if err != nil {
		c.f.t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *fixtureConn) status(req wcs.StreamRequest, status, info string) {
	c.send(wcs.MsgNotifyStreamStatusEvent, wcs.Stream{
		MediaSessionID: string(req.MediaSessionID), Name: string(req.Name), Published: bool(req.Published),
		Status: status, Info: info, VideoCodec: "VP8", AudioCodec: "opus",
	})
}

func (c *fixtureConn) handle(env wcs.Envelope) {
	switch env.Message {
	case wcs.MsgConnection:
		var raw map[string]json.RawMessage
		if err := env.Arg(0, &raw); err != nil {
			c.f.t.Error(err)
			return
		}
		if string(raw["appKey"]) == `"reject"` {
			c.send(wcs.MsgFail, wcs.Fail{Status: "FAILED", Info: "Forbidden", APIMethod: wcs.APIConnectionStatusEvent})
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
			return
		}
		c.send(wcs.MsgGetUserData, wcs.UserData(raw, "token-1"))
		c.send(wcs.MsgGetVersion, wcs.Version)
		c.send(wcs.MsgPing)
	case wcs.MsgPublishStream, wcs.MsgPlayStream, wcs.MsgUnPublishStream, wcs.MsgStopStream:
		var req wcs.StreamRequest
		if err := env.Arg(0, &req); err != nil {
			c.f.t.Error(err)
			return
		}
		switch env.Message {
		case wcs.MsgPublishStream:
			c.publish(req)
		case wcs.MsgPlayStream:
			c.play(req)
		case wcs.MsgUnPublishStream:
			c.unpublish(req)
		case wcs.MsgStopStream:
			c.f.dropPlayer(string(req.Name), string(req.MediaSessionID))
			c.status(req, wcs.StatusStopped, wcs.InfoStoppedByUser)
		}
	}
}

// answer applies the client's offer and returns the answer with candidates (no trickle).
func (c *fixtureConn) answer(pc *webrtc.PeerConnection, offer string) string {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		c.f.t.Errorf("fixture: offer: %v", err)
		return ""
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		c.f.t.Errorf("fixture: answer: %v", err)
		return ""
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		c.f.t.Errorf("fixture: local answer: %v", err)
		return ""
	}
	<-done
	return pc.LocalDescription().SDP
}

func (c *fixtureConn) newPC(onConnected func()) *webrtc.PeerConnection {
	pc, err := c.f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		c.f.t.Errorf("wcstest: peer connection: %v", err)
		return nil
	}
	c.f.mu.Lock()
	c.f.pcs = append(c.f.pcs, pc)
	c.f.mu.Unlock()
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(onConnected)
		}
	})
	return pc
}

func (c *fixtureConn) publish(req wcs.StreamRequest) {
	video, _ := webrtc.NewTrackLocalStaticRTP(media.CapabilityVP8, "video", "fixture")
	audio, _ := webrtc.NewTrackLocalStaticRTP(media.CapabilityOpus, "audio", "fixture")
	p := &fixturePub{conn: c, id: string(req.MediaSessionID), video: video, audio: audio, players: map[string]*fixtureConn{}}
	p.pc = c.newPC(func() { c.status(req, wcs.StatusPublishing, "") })
	if p.pc == nil {
		return
	}
	p.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		out := audio
		if t.Kind() == webrtc.RTPCodecTypeVideo {
			out = video
		}
		for {
			pkt, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			_ = out.WriteRTP(pkt)
		}
	})
	c.f.mu.Lock()
	c.f.pubs[string(req.Name)] = p
	c.f.mu.Unlock()
	c.send(wcs.MsgSetRemoteSDP, string(req.MediaSessionID), c.answer(p.pc, string(req.SDP)), true)
}

func (c *fixtureConn) play(req wcs.StreamRequest) {
	c.f.mu.Lock()
	p := c.f.pubs[string(req.Name)]
	if p != nil {
		p.players[string(req.MediaSessionID)] = c
	}
	c.f.mu.Unlock()
	if p == nil {
		c.status(req, wcs.StatusFailed, wcs.InfoStreamNotFound)
		return
	}
	id := string(req.MediaSessionID)
	pc := c.newPC(func() {
		c.status(req, wcs.StatusPlaying, "")
		c.send(wcs.MsgNotifyVideoFormat, wcs.VideoFormat{MediaSessionID: id, Status: "RESIZE", StreamerVideoWidth: 320, StreamerVideoHeight: 240})
		// Ask the publisher for a key frame so the new player can start (docs/protocol.md §E.3).
		for _, r := range p.pc.GetReceivers() {
			if tr := r.Track(); tr != nil && tr.Kind() == webrtc.RTPCodecTypeVideo {
				_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
			}
		}
		c.f.wg.Add(1)
		go func() { // three outboundVideoRate messages, one a second (§C.18)
			defer c.f.wg.Done()
			for range 3 {
				time.Sleep(time.Second)
				c.send(wcs.MsgOutboundVideoRate, wcs.VideoRate{MediaSessionID: id, VideoRate: 100000, Width: 320, Height: 240})
			}
		}()
	})
	if pc == nil {
		return
	}
	for _, tr := range []webrtc.TrackLocal{p.audio, p.video} {
		if _, err := pc.AddTrack(tr); err != nil {
			c.f.t.Error(err)
		}
	}
	c.send(wcs.MsgSetRemoteSDP, id, c.answer(pc, string(req.SDP)), true)
}

func (c *fixtureConn) unpublish(req wcs.StreamRequest) {
	c.f.mu.Lock()
	p := c.f.pubs[string(req.Name)]
	delete(c.f.pubs, string(req.Name))
	c.f.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.pc.Close()
	c.status(req, wcs.StatusUnpublished, wcs.InfoStoppedByPublisherStop)
	for id, pc := range p.players {
		pc.status(wcs.StreamRequest{MediaSessionID: wcs.String(id), Name: req.Name}, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	}
}

func (f *Server) dropPlayer(name, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.pubs[name]; p != nil {
		delete(p.players, id)
	}
}

// RawPongs returns the pong frames exactly as the client sent them.
func (f *Server) RawPongs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rawPongs...)
}
