//go:build !js

package wasmclient

import (
	"context"
	"fmt"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/wasmclient/media"
)

// pionPeer is the native media side of a Stream.
type pionPeer struct {
	st     *Stream
	pc     *webrtc.PeerConnection
	sdp    string
	ctx    context.Context // pumps run until close
	cancel context.CancelFunc
	video  *media.Pump
	audio  *media.Pump
	recv   *receiver
}

func newPeer(st *Stream, caps []webrtc.RTPCodecCapability) (*pionPeer, error) {
	api, err := newAPI(st.s.loopback, st.tcp, caps...)
	if err != nil {
		return nil, err
	}
	// max-compat as in the WebSDK's RTCPeerConnection config (docs/protocol.md §H.3).
	pc, err := api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxCompat})
	if err != nil {
		return nil, fmt.Errorf("wasmclient: peer connection: %w", err)
	}
	p := &pionPeer{st: st, pc: pc}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

func newPublishPeer(st *Stream, o PublishOptions) (peer, error) {
	var caps []webrtc.RTPCodecCapability
	for _, src := range []media.Source{o.Audio, o.Video} {
		if src != nil {
			caps = append(caps, src.Codec())
		}
	}
	p, err := newPeer(st, caps)
	if err != nil {
		return nil, err
	}
	// Audio first, then video: the order of MediaStream.getTracks() that the SDK adds.
	for _, src := range []media.Source{o.Audio, o.Video} {
		if src == nil {
			continue
		}
		if err := p.addSource(src); err != nil {
			p.close()
			return nil, err
		}
	}
	p.pc.OnConnectionStateChange(p.onState(true))
	return p, p.createOffer()
}

func (p *pionPeer) addSource(src media.Source) error {
	c := src.Codec()
	kind := "audio"
	if media.IsVideo(c) {
		kind = "video"
	}
	track, err := webrtc.NewTrackLocalStaticRTP(c, kind, p.st.id)
	if err != nil {
		return fmt.Errorf("wasmclient: %s track: %w", kind, err)
	}
	tr, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("wasmclient: add %s: %w", kind, err)
	}
	pump, err := media.NewPump(src, track)
	if err != nil {
		return err
	}
	if kind == "video" {
		p.video = pump
	} else {
		p.audio = pump
	}
	sender := tr.Sender()
	p.st.s.group.Go(func() { readRTCP(sender, pump) })
	return nil
}

// readRTCP drains the sender's RTCP (interceptors need it read) and turns PLI/FIR from the server
// into a keyframe request to the source. It ends when the sender stops.
func readRTCP(sender *webrtc.RTPSender, pump *media.Pump) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				pump.RequestKeyframe()
			}
		}
	}
}

func newPlayPeer(st *Stream, o PlayOptions) (peer, error) {
	p, err := newPeer(st, playCodecs)
	if err != nil {
		return nil, err
	}
	p.recv = &receiver{st: st, recordPath: o.RecordFile}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}
	if o.NoAudio {
		kinds = kinds[1:]
	}
	for _, k := range kinds {
		if _, err := p.pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			p.close()
			return nil, fmt.Errorf("wasmclient: add %s transceiver: %w", k, err)
		}
	}
	p.pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if o.OnTrack != nil {
			st.s.group.Go(func() { o.OnTrack(t, r) })
			return
		}
		st.s.group.Go(func() { p.recv.run(t) })
	})
	p.pc.OnConnectionStateChange(p.onState(false))
	return p, p.createOffer()
}

// createOffer sends the offer as createOffer returns it: no candidates, as the WebSDK does
// (docs/protocol.md §H.3). SetLocalDescription starts gathering; the server learns our address as
// peer-reflexive from our checks and checks us back there.
func (p *pionPeer) createOffer() error {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.close()
		return fmt.Errorf("wasmclient: create offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.close()
		return fmt.Errorf("wasmclient: set local offer: %w", err)
	}
	p.sdp = offer.SDP
	return nil
}

func (p *pionPeer) onState(publish bool) func(webrtc.PeerConnectionState) {
	return func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			p.st.markConnected()
			if publish {
				p.startPumps()
			}
		case webrtc.PeerConnectionStateFailed:
			// Asynchronous: ending the stream closes this peer connection, which must not
			// happen inside its own callback.
			p.st.s.group.Go(p.st.peerFailed)
		}
	}
}

// startPumps begins sending once DTLS is up, so counted packets are packets on the wire.
func (p *pionPeer) startPumps() {
	for _, pump := range []*media.Pump{p.audio, p.video} {
		if pump == nil {
			continue
		}
		p.st.s.group.Go(func() {
			if err := pump.Run(p.ctx); err != nil {
				p.st.s.log.Warn().Err(err).Str("mediaSessionId", p.st.id).Msg("source failed")
			}
		})
	}
}

func (p *pionPeer) offer() string { return p.sdp }

// mute pauses a kind's pump: its frames still advance the RTP clock but are not sent, so the
// stream resumes in time on unmute (a browser sends black frames or silence instead).
func (p *pionPeer) mute(kind string, muted bool) bool {
	pump := p.audio
	if kind == "video" {
		pump = p.video
	}
	if pump == nil {
		return false
	}
	pump.SetMuted(muted)
	return true
}

func (p *pionPeer) setAnswer(sdp string) error {
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		return fmt.Errorf("wasmclient: set remote answer: %w", err)
	}
	return nil
}

func (p *pionPeer) close() {
	p.cancel()
	if err := p.pc.Close(); err != nil {
		p.st.s.log.Debug().Err(err).Str("mediaSessionId", p.st.id).Msg("peer close")
	}
}

func (p *pionPeer) receiveStats() ReceiveStats {
	if p.recv == nil {
		return ReceiveStats{}
	}
	return p.recv.stats()
}

func (p *pionPeer) sendStats() SendStats {
	var s SendStats
	if p.video != nil {
		s.Video = TrackSendStats(p.video.Stats())
	}
	if p.audio != nil {
		s.Audio = TrackSendStats(p.audio.Stats())
	}
	return s
}
