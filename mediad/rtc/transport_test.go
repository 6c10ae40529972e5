package rtc

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/testkit/testpeer"
)

// clientAPI is a browser stand-in: pion with default codecs, loopback only (docs/protocol.md §P.1).
func clientAPI(t testing.TB) *webrtc.API { return testpeer.API(t, testpeer.Options{}) }

func listenLoopback(t testing.TB, tcpPort int) *Transport {
	t.Helper()
	tr, err := Listen(Options{LoopbackOnly: true, TCPPort: tcpPort, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestAnswerConnectsOverSharedPort(t *testing.T) {
	tr := listenLoopback(t, 0)
	client, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	vt, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	at, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "a", "s")
	for _, tr := range []webrtc.TrackLocal{at, vt} {
		if _, err := client.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseOffer(offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	offeredVideo := map[string]bool{}
	for _, c := range parsed.Kind(webrtc.RTPCodecTypeVideo).Codecs {
		offeredVideo[strconv.Itoa(int(c.PayloadType))] = true
	}

	server, err := tr.NewPeerConnection(PeerOptions{Codecs: PublishCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	connected := make(chan struct{})
	server.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	answered, err := Answer(ctx, server, offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	answer := answered.SDP
	if c := answered.Codecs[webrtc.RTPCodecTypeAudio]; c.MimeType != "audio/opus" || c.PayloadType != 111 || c.ClockRate != 48000 || c.Channels != 2 {
		t.Errorf("accepted audio codec %+v, want opus/48000/2 on 111", c)
	}
	port := strconv.Itoa(tr.UDPAddr().Port)
	if strings.Contains(answered.SDP, "a=ice-lite") {
		t.Error("answer says ice-lite: the server is a full ICE agent")
	}
	for _, want := range []string{"127.0.0.1 " + port + " typ host", "a=recvonly",
		"a=end-of-candidates", "a=rtpmap:111 opus/48000/2"} {
		if !strings.Contains(answer, want) {
			t.Errorf("answer lacks %q:\n%s", want, answer)
		}
	}
	if strings.Contains(answer, "tcptype") {
		t.Error("UDP session offered TCP candidates")
	}
	for _, line := range strings.Split(answer, "\r\n") {
		if strings.HasPrefix(line, "m=video") {
			for _, pt := range strings.Fields(line)[3:] {
				if !offeredVideo[pt] {
					t.Errorf("answer payload type %s not in the offer", pt)
				}
			}
		}
	}
	if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("not connected over the shared UDP port")
	}
	pair, err := server.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Port != uint16(tr.UDPAddr().Port) || pair.Remote.Address != "127.0.0.1" {
		t.Fatalf("selected pair %v err %v", pair, err)
	}
}

func TestAnswerWithTCPCandidates(t *testing.T) {
	tr := listenLoopback(t, 0)
	if tr.TCPAddr() == nil {
		t.Fatal("no TCP port")
	}
	client, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, _ := client.CreateOffer(nil)
	server, err := tr.NewPeerConnection(PeerOptions{Codecs: PublishCodecs(), TCP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	answered, err := Answer(context.Background(), server, offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	answer := answered.SDP
	want := "127.0.0.1 " + strconv.Itoa(tr.TCPAddr().Port) + " typ host tcptype passive"
	if !strings.Contains(answer, want) {
		t.Fatalf("answer lacks %q:\n%s", want, answer)
	}
}

func TestListenOffAndErrors(t *testing.T) {
	tr := listenLoopback(t, -1)
	if tr.TCPAddr() != nil {
		t.Fatal("TCP port opened although off")
	}
	if _, err := Listen(Options{ListenIP: "nope"}); err == nil {
		t.Fatal("bad listen IP accepted")
	}
	if _, err := Listen(Options{LoopbackOnly: true, TCPPort: -1, PublicIPs: []string{"x"}}); err == nil {
		t.Fatal("bad public IP accepted")
	}
	if _, err := Listen(Options{LoopbackOnly: true, UDPPort: tr.UDPAddr().Port, TCPPort: -1}); err == nil {
		t.Fatal("second listener on a busy port")
	}
}

func TestPublicIPsAdvertised(t *testing.T) {
	tr, err := Listen(Options{LoopbackOnly: true, TCPPort: -1, PublicIPs: []string{"203.0.113.7"}, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	server, err := tr.NewPeerConnection(PeerOptions{Codecs: PublishCodecs()})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	answered, err := Answer(context.Background(), server, chromeOffer)
	if err != nil {
		t.Fatal(err)
	}
	answer := answered.SDP
	if !strings.Contains(answer, "203.0.113.7 "+strconv.Itoa(tr.UDPAddr().Port)+" typ host") {
		t.Fatalf("public IP not advertised:\n%s", answer)
	}
}

// FuzzSetRemoteDescription feeds offers that pass ParseOffer to pion's answer path: nothing may
// panic between our validation and pion.
func FuzzSetRemoteDescription(f *testing.F) {
	tr := listenLoopback(f, -1)
	f.Add(chromeOffer)
	f.Add(strings.Replace(chromeOffer, "a=sendonly", "a=recvonly", 2))
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParseOffer(s); err != nil {
			return
		}
		pc, err := tr.NewPeerConnection(PeerOptions{Codecs: PublishCodecs()})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = Answer(ctx, pc, s)
	})
}

// TestAnswerRejectedFirstMLine: a player asks for audio and video but only video is available.
// pion rejects the audio m-line and writes the candidates there only; the accepted video m-line
// must carry them too.
func TestAnswerRejectedFirstMLine(t *testing.T) {
	tr := listenLoopback(t, -1)
	client, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := client.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, _ := client.CreateOffer(nil)
	_ = client.SetLocalDescription(offer)
	videoOnly := []Codec{}
	for _, c := range PublishCodecs() {
		if c.Kind == webrtc.RTPCodecTypeVideo {
			videoOnly = append(videoOnly, c)
		}
	}
	server, err := tr.NewPeerConnection(PeerOptions{Codecs: videoOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	answered, err := Answer(context.Background(), server, offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	answer := answered.SDP
	if answered.Has(webrtc.RTPCodecTypeAudio) || !answered.Has(webrtc.RTPCodecTypeVideo) {
		t.Fatalf("accepted codecs %v, want video only", answered.Codecs)
	}
	video := answer[strings.Index(answer, "m=video"):]
	if !strings.Contains(answer, "m=audio 0 ") || !strings.Contains(video, "typ host") ||
		!strings.Contains(video, "a=end-of-candidates") {
		t.Fatalf("video m-line without candidates:\n%s", answer)
	}
	connected := make(chan struct{})
	client.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("client did not connect")
	}
}
