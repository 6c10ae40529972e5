package mediad

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/sipleg"
)

// sipPeer is a SIP phone's RTP side on loopback: it counts what it receives by payload type and
// sends back what it is told.
type sipPeer struct {
	conn     *net.UDPConn
	received atomic.Int64
	events   atomic.Int64 // telephone-event packets (payload type 101) of DTMF 5
	lastPT   atomic.Int32
	from     atomic.Pointer[net.UDPAddr]
	done     chan struct{}
}

func newSIPPeer(t *testing.T) *sipPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &sipPeer{conn: c, done: make(chan struct{})}
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		defer close(p.done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) == nil {
				if pkt.PayloadType == 101 {
					if len(pkt.Payload) == 4 && pkt.Payload[0] == 5 {
						p.events.Add(1)
					}
					continue
				}
				p.received.Add(1)
				p.lastPT.Store(int32(pkt.PayloadType))
				p.from.Store(from)
			}
		}
	}()
	return p
}

// close stops the peer and waits for its reader.
func (p *sipPeer) close() {
	_ = p.conn.Close()
	<-p.done
}

func (p *sipPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// send sends n packets of payload type pt to the daemon's leg at to, 20 ms apart.
func (p *sipPeer) send(t *testing.T, to *net.UDPAddr, pt uint8, n int) {
	t.Helper()
	for i := range n {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 0xabcdef},
			Payload: make([]byte, 160)}
		b, _ := pkt.Marshal()
		if _, err := p.conn.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// browserCall is a Go stand-in for a browser in a call: a sendrecv audio track of mime, counting
// what it receives.
type browserCall struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	received atomic.Int64
	codec    atomic.Value // the mime it receives
	stop     chan struct{}
	sending  sync.WaitGroup
}

func newBrowserCall(t *testing.T, mime string) *browserCall {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	b := &browserCall{pc: pc, stop: make(chan struct{})}
	rate := uint32(8000)
	if mime == webrtc.MimeTypeOpus {
		rate = 48000
	}
	if b.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: rate}, "audio", "browser"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(b.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.codec.Store(remote.Codec().MimeType)
		for {
			if _, _, err := remote.ReadRTP(); err != nil {
				return
			}
			b.received.Add(1)
		}
	})
	t.Cleanup(func() { b.close() })
	return b
}

// sendAudio sends 20 ms packets until close.
func (b *browserCall) sendAudio() {
	b.sending.Add(1)
	go func() {
		defer b.sending.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.stop:
				return
			case <-tick.C:
				_ = b.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(160 * i)},
					Payload: make([]byte, 160)})
			}
		}
	}()
}

func (b *browserCall) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.sending.Wait()
	_ = b.pc.Close()
}

func offerOf(t *testing.T, pc *webrtc.PeerConnection) string {
	t.Helper()
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-g
	return pc.LocalDescription().SDP
}

func legAddr(t *testing.T, sdp string) *net.UDPAddr {
	t.Helper()
	m, err := sipleg.Parse(sdp)
	if err != nil {
		t.Fatalf("the daemon's SIP SDP: %v\n%s", err, sdp)
	}
	return &net.UDPAddr{IP: m.Addr, Port: m.Port}
}

// An outgoing call (docs/protocol.md §E.9): the INVITE's SDP offers the browser's audio codecs;
// the SIP peer answers PCMU, the browser is answered PCMU only; audio flows both ways with the
// SIP side's payload type; a stop ends it and leaves nothing behind.
func TestCallOutgoingBridge(t *testing.T) {
	e := newEnv(t, nil)
	b := newBrowserCall(t, webrtc.MimeTypePCMU)
	var rep control.CallReply
	e.request(control.OpCall, control.CallRequest{Owner: owner("call-out"), Outgoing: true, WebRTCOffer: offerOf(t, b.pc)}, &rep)
	if rep.Error != "" {
		t.Fatalf("call: %s", rep.Error)
	}
	offered, err := sipleg.Parse(rep.SIPOffer)
	if err != nil {
		t.Fatalf("SIP offer: %v\n%s", err, rep.SIPOffer)
	}
	var names []string
	for _, c := range offered.Codecs {
		names = append(names, c.String())
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "PCMU/8000") || !strings.Contains(got, "opus/48000/2") {
		t.Errorf("SIP offer codecs %q, want the browser's opus and PCMU among them", got)
	}
	peer := newSIPPeer(t)
	answer := sipleg.Build(net.IPv4(127, 0, 0, 1), peer.port(), []sipleg.Codec{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}}, "sendrecv", 1, 1)
	var ans control.CallAnswerReply
	e.request(control.OpCallAnswer, control.CallAnswerRequest{Owner: owner("call-out"), SIPAnswer: answer}, &ans)
	if ans.Error != "" || ans.AudioCodec != "PCMU" {
		t.Fatalf("call answer: %+v", ans)
	}
	if strings.Contains(ans.WebRTCAnswer, "opus") || !strings.Contains(ans.WebRTCAnswer, "PCMU/8000") {
		t.Errorf("the browser's answer is not PCMU only:\n%s", ans.WebRTCAnswer)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.WebRTCAnswer}); err != nil {
		t.Fatal(err)
	}
	e.wait("call-out", control.EventState, control.StateConnected)
	b.sendAudio()
	eventually(t, "the browser's audio at the SIP peer", func() bool { return peer.received.Load() > 10 })
	if pt := peer.lastPT.Load(); pt != 0 {
		t.Errorf("the SIP peer received payload type %d, want PCMU's 0", pt)
	}
	peer.send(t, legAddr(t, rep.SIPOffer), 0, 25)
	eventually(t, "the SIP peer's audio in the browser", func() bool { return b.received.Load() > 10 })
	if c, _ := b.codec.Load().(string); !strings.EqualFold(c, webrtc.MimeTypePCMU) {
		t.Errorf("the browser receives %q, want PCMU", c)
	}
	var stop control.StopReply
	e.request(control.OpStop, control.StopRequest{Owner: owner("call-out")}, &stop)
	b.close()
	peer.close()
	e.closeAndCheckLeaks()
}

// An incoming call (docs/protocol.md §E.10): the SIP offer's first codec the bridge carries
// (PCMA) is what the browser is offered and what the SIP peer is answered; the call's ICE
// timeout waits for the browser's answer; audio flows both ways.
func TestCallIncomingBridge(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ICETimeout = 2 * time.Second })
	peer := newSIPPeer(t)
	offer := sipleg.Build(net.IPv4(127, 0, 0, 1), peer.port(), []sipleg.Codec{
		{PayloadType: 18, Name: "G729", ClockRate: 8000},
		{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
		{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
		{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
	}, "sendrecv", 7, 1)
	var rep control.CallReply
	e.request(control.OpCall, control.CallRequest{Owner: owner("call-in"), SIPOffer: offer}, &rep)
	if rep.Error != "" || rep.AudioCodec != "PCMA" {
		t.Fatalf("call: %+v", rep)
	}
	ans, err := sipleg.Parse(rep.SIPAnswer)
	if err != nil || len(ans.Codecs) != 2 || !ans.Codecs[0].Is("PCMA", 8000) || !ans.Codecs[1].Is("telephone-event", 8000) {
		t.Fatalf("SIP answer %+v (%v), want PCMA and telephone-event:\n%s", ans, err, rep.SIPAnswer)
	}
	if strings.Contains(rep.WebRTCOffer, "PCMU") || !strings.Contains(rep.WebRTCOffer, "PCMA/8000") {
		t.Errorf("the browser's offer is not PCMA only:\n%s", rep.WebRTCOffer)
	}
	time.Sleep(2500 * time.Millisecond) // longer than the ICE timeout: a ringing call is not timed out
	if n := len(e.events.match(func(ev control.MediaEvent) bool { return ev.MediaSessionID == "call-in" })); n != 0 {
		t.Fatalf("the ringing call got %d events before it was answered", n)
	}
	b := newBrowserCall(t, webrtc.MimeTypePCMA)
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: rep.WebRTCOffer}); err != nil {
		t.Fatal(err)
	}
	a, err := b.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(a); err != nil {
		t.Fatal(err)
	}
	<-g
	var ar control.CallAnswerReply
	e.request(control.OpCallAnswer, control.CallAnswerRequest{Owner: owner("call-in"), WebRTCAnswer: b.pc.LocalDescription().SDP}, &ar)
	if ar.Error != "" {
		t.Fatalf("call answer: %s", ar.Error)
	}
	e.wait("call-in", control.EventState, control.StateConnected)
	b.sendAudio()
	eventually(t, "the browser's audio at the SIP peer", func() bool { return peer.received.Load() > 10 })
	if pt := peer.lastPT.Load(); pt != 8 {
		t.Errorf("the SIP peer received payload type %d, want PCMA's 8", pt)
	}
	peer.send(t, legAddr(t, rep.SIPAnswer), 8, 25)
	eventually(t, "the SIP peer's audio in the browser", func() bool { return b.received.Load() > 10 })

	// DTMF as RFC 4733 telephone-events with the SIP side's payload type (§E.13).
	var dr control.StopReply
	e.request(control.OpCallDTMF, control.CallDTMFRequest{Owner: owner("call-in"), Symbol: "5"}, &dr)
	if dr.Error != "" {
		t.Fatalf("dtmf: %s", dr.Error)
	}
	eventually(t, "the DTMF events at the SIP peer", func() bool { return peer.events.Load() >= 8 })
	e.request(control.OpCallDTMF, control.CallDTMFRequest{Owner: owner("call-in"), Symbol: "x"}, &dr)
	if dr.Error == "" {
		t.Error("DTMF symbol x was accepted")
	}

	// On hold nothing is relayed either way; the browser's hold answers a re-INVITE offer
	// (sendonly, the next o= version), the peer's re-INVITE an answer (recvonly to sendonly).
	var hr control.CallHoldReply
	e.request(control.OpCallHold, control.CallHoldRequest{Owner: owner("call-in"), Hold: true}, &hr)
	if hr.Error != "" || !hr.Hold || !strings.Contains(hr.SIPOffer, "a=sendonly") || !strings.Contains(hr.SIPOffer, " 2 IN IP4") {
		t.Errorf("hold: %+v", hr)
	}
	time.Sleep(100 * time.Millisecond)
	before := peer.received.Load()
	time.Sleep(300 * time.Millisecond)
	if n := peer.received.Load() - before; n != 0 {
		t.Errorf("%d packets reached the SIP peer during the hold", n)
	}
	e.request(control.OpCallHold, control.CallHoldRequest{Owner: owner("call-in"), Hold: false}, &hr)
	if hr.Hold || !strings.Contains(hr.SIPOffer, "a=sendrecv") {
		t.Errorf("unhold: %+v", hr)
	}
	eventually(t, "audio after the hold", func() bool { return peer.received.Load() > before+5 })

	reinvite := func(dir string) control.CallHoldReply {
		var r control.CallHoldReply
		sdp := strings.Replace(offer, "a=sendrecv", "a="+dir, 1)
		e.request(control.OpCallHold, control.CallHoldRequest{Owner: owner("call-in"), SIPOffer: sdp}, &r)
		return r
	}
	if r := reinvite("sendonly"); r.Error != "" || !r.Hold || !strings.Contains(r.SIPAnswer, "a=recvonly") {
		t.Errorf("the peer's hold: %+v", r)
	}
	time.Sleep(100 * time.Millisecond)
	before = peer.received.Load()
	time.Sleep(300 * time.Millisecond)
	if n := peer.received.Load() - before; n != 0 {
		t.Errorf("%d packets reached the SIP peer while it held the call", n)
	}
	if r := reinvite("sendrecv"); r.Error != "" || r.Hold || !strings.Contains(r.SIPAnswer, "a=sendrecv") {
		t.Errorf("the peer's resume: %+v", r)
	}
	eventually(t, "audio after the peer's hold", func() bool { return peer.received.Load() > before+5 })
	var bad control.CallHoldReply
	e.request(control.OpCallHold, control.CallHoldRequest{Owner: owner("call-in"), SIPOffer: "v=0 garbage"}, &bad)
	if bad.Error == "" {
		t.Error("a re-INVITE with a bad SDP was accepted")
	}
	b.close()
	peer.close()
	e.closeAndCheckLeaks()
}

// A SIP offer with no codec the bridge carries is refused with WCS's "No common codecs".
func TestCallNoCommonCodec(t *testing.T) {
	e := newEnv(t, nil)
	offer := sipleg.Build(net.IPv4(127, 0, 0, 1), 4000, []sipleg.Codec{{PayloadType: 18, Name: "G729", ClockRate: 8000}}, "sendrecv", 1, 1)
	var rep control.CallReply
	e.request(control.OpCall, control.CallRequest{Owner: owner("call-g729"), SIPOffer: offer}, &rep)
	if rep.Error != wcs.InfoNoCommonCodecs {
		t.Fatalf("call with G.729 only: %+v, want %q", rep, wcs.InfoNoCommonCodecs)
	}
	e.closeAndCheckLeaks()
}
