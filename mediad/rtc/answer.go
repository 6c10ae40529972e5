package rtc

import (
	"context"
	"errors"
	"fmt"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Answered is the daemon's complete answer to an offer and what it accepted.
type Answered struct {
	SDP string
	// Codecs holds, per accepted media kind, the codec of the answer that media flows with: the
	// first codec of the first accepted m-line of that kind (a browser sends with the first codec
	// of the answer, docs/protocol.md §H.3). A kind that was rejected or is inactive is absent.
	Codecs map[webrtc.RTPCodecType]webrtc.RTPCodecParameters
}

// Has reports whether media of kind was accepted.
func (a *Answered) Has(kind webrtc.RTPCodecType) bool {
	_, ok := a.Codecs[kind]
	return ok
}

// Answer applies a client offer and returns the complete answer. It waits for candidate gathering
// (immediate with host candidates only) because the WebSDK never trickles: the candidates must be in
// the SDP (docs/protocol.md §0 item 5).
func Answer(ctx context.Context, pc *webrtc.PeerConnection, offer string) (*Answered, error) {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, fmt.Errorf("rtc: set remote offer: %w", err)
	}
	return CompleteAnswer(ctx, pc)
}

// CompleteAnswer answers the offer pc holds already (a call's browser offer, answered once the
// SIP peer has chosen the codec) and returns the complete answer, as Answer.
func CompleteAnswer(ctx context.Context, pc *webrtc.PeerConnection) (*Answered, error) {
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("rtc: create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return nil, fmt.Errorf("rtc: set local answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, fmt.Errorf("rtc: candidate gathering: %w", ctx.Err())
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return nil, errors.New("rtc: no local description after gathering")
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(ld.SDP); err != nil {
		return nil, fmt.Errorf("rtc: parse own answer: %w", err)
	}
	a := &Answered{Codecs: acceptedCodecs(&sd)}
	if a.SDP, err = candidatesEverywhere(&sd, ld.SDP); err != nil {
		return nil, err
	}
	return a, nil
}

// acceptedCodecs reads the first codec of each accepted kind from an answer.
func acceptedCodecs(sd *sdp.SessionDescription) map[webrtc.RTPCodecType]webrtc.RTPCodecParameters {
	out := map[webrtc.RTPCodecType]webrtc.RTPCodecParameters{}
	for _, md := range sd.MediaDescriptions {
		m, err := parseMedia(md)
		if err != nil || m.Kind == 0 || m.Port == 0 || m.Direction == "inactive" || len(m.Codecs) == 0 {
			continue
		}
		if _, seen := out[m.Kind]; seen {
			continue
		}
		c := m.Codecs[0]
		out[m.Kind] = webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(c.PayloadType),
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: m.Kind.String() + "/" + c.Name,
				ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.Fmtp}}
	}
	return out
}

// candidatesEverywhere copies the candidates onto every accepted m-line of sd (parsed from raw).
// pion writes them only on the first m-line; when that one is rejected (port 0, e.g. a player
// asks for audio the publisher does not send), the bundled m-lines would be left without
// candidates and never connect, and the WebSDK cannot trickle to make up for it (docs/protocol.md
// §H.3: "one or more a=candidate lines per m-line").
func candidatesEverywhere(sd *sdp.SessionDescription, raw string) (string, error) {
	var cands []sdp.Attribute
	for _, md := range sd.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key == "candidate" {
				cands = append(cands, a)
			}
		}
		if len(cands) > 0 {
			break
		}
	}
	if len(cands) == 0 {
		return raw, nil
	}
	changed := false
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Port.Value == 0 {
			continue
		}
		if _, has := md.Attribute("candidate"); has {
			continue
		}
		md.Attributes = append(md.Attributes, cands...)
		md.Attributes = append(md.Attributes, sdp.Attribute{Key: "end-of-candidates"})
		changed = true
	}
	if !changed {
		return raw, nil
	}
	out, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("rtc: marshal answer: %w", err)
	}
	return string(out), nil
}

// MakeOffer creates the daemon's own offer on pc (an edge asking an origin for a relay) and returns it
// complete with candidates: the other side is a media daemon that answers at once, with no
// trickling either way.
func MakeOffer(ctx context.Context, pc *webrtc.PeerConnection) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("rtc: create offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", fmt.Errorf("rtc: set local offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("rtc: candidate gathering: %w", ctx.Err())
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return "", errors.New("rtc: no local description after gathering")
	}
	return ld.SDP, nil
}
