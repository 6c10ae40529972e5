package signal_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/potok-media/potok/testkit/testpeer"
)

// peer is a browser stand-in: pion with default codecs on loopback only (docs/protocol.md §P.1).
// Like the WebSDK it sends createOffer()'s SDP, without candidates (docs/protocol.md §H.3).
type peer struct {
	t       *testing.T
	pc      *webrtc.PeerConnection
	video   *webrtc.TrackLocalStaticSample
	audio   *webrtc.TrackLocalStaticSample
	offer   string
	got     atomic.Int64 // RTP packets received (player)
	gotKind sync.Map     // kind → true once a track arrived
	stop    chan struct{}
	wg      sync.WaitGroup
}

func peerAPI(t *testing.T) *webrtc.API { return testpeer.API(t, testpeer.Options{}) }

// newPublisher offers sendonly VP8 + opus, as stream.publish() does.
func newPublisher(t *testing.T) *peer {
	t.Helper()
	p := newPeer(t)
	var err error
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{p.audio, p.video} {
		if _, err := p.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	p.createOffer()
	return p
}

// newPlayer offers recvonly audio + video, as stream.play() does, and counts what arrives.
func newPlayer(t *testing.T) *peer {
	t.Helper()
	p := newPeer(t)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := p.pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{
			Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	p.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.gotKind.Store(tr.Kind().String(), true)
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			p.got.Add(1)
		}
	})
	p.createOffer()
	return p
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	pc, err := peerAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, pc: pc, stop: make(chan struct{})}
	t.Cleanup(p.close)
	return p
}

func (p *peer) createOffer() {
	p.t.Helper()
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.t.Fatal(err)
	}
	p.offer = offer.SDP
}

// answer applies the server's setRemoteSDP.
func (p *peer) answer(sdp string) {
	p.t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		p.t.Fatalf("apply answer: %v\n%s", err, sdp)
	}
}

// sendMedia writes a synthetic 320x240 VP8 key frame and opus frames until close.
func (p *peer) sendMedia() {
	p.wg.Go(func() {
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				_ = p.video.WriteSample(media.Sample{Data: vp8KeyFrame(320, 240), Duration: 33 * time.Millisecond})
				_ = p.audio.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
			}
		}
	})
}

// vp8KeyFrame is a VP8 key frame header (RFC 6386 §9.1) with the given size and a dummy body:
// enough for a forwarder and a size parser, not for a decoder.
func vp8KeyFrame(w, h int) []byte {
	b := make([]byte, 64)
	size := len(b) - 10
	tag := uint32(0) | 0<<1 | 1<<4 | uint32(size)<<5 // key frame, version 0, shown, first partition size
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	b[6], b[7] = byte(w), byte(w>>8)&0x3f
	b[8], b[9] = byte(h), byte(h>>8)&0x3f
	return b
}

func (p *peer) close() {
	select {
	case <-p.stop:
		return
	default:
		close(p.stop)
	}
	p.wg.Wait()
	_ = p.pc.Close()
}
