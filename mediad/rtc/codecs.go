package rtc

import (
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"
)

// Codec is one codec the daemon can negotiate, with the kind pion registers it under.
type Codec struct {
	Kind   webrtc.RTPCodecType
	Params webrtc.RTPCodecParameters
}

// videoFeedback is what WCS answers with (docs/protocol.md §H.3): NACK answered from our packet cache,
// PLI/FIR forwarded to the publisher, REMB for the browser's sender estimate.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: webrtc.TypeRTCPFBGoogREMB},
	{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	{Type: webrtc.TypeRTCPFBNACK},
	{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
}

// PublishCodecs is everything a publisher may send: VP8, H.264 constrained baseline and baseline
// with packetization-mode 1, Opus, and G.711 (ready for the SIP bridge). Payload types are only
// defaults: pion answers with the offer's payload types and only those the offer contains (§H.3).
func PublishCodecs() []Codec {
	v := func(pt uint8, mime, fmtp string) Codec {
		return Codec{Kind: webrtc.RTPCodecTypeVideo, Params: webrtc.RTPCodecParameters{
			PayloadType: webrtc.PayloadType(pt),
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: videoFeedback,
			},
		}}
	}
	a := func(pt uint8, mime string, rate uint32, ch uint16, fmtp string) Codec {
		return Codec{Kind: webrtc.RTPCodecTypeAudio, Params: webrtc.RTPCodecParameters{
			PayloadType: webrtc.PayloadType(pt),
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: rate, Channels: ch, SDPFmtpLine: fmtp,
			},
		}}
	}
	return []Codec{
		v(96, webrtc.MimeTypeVP8, ""),
		v(102, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
		v(104, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
		a(111, webrtc.MimeTypeOpus, 48000, 2, "minptime=10;useinbandfec=1"),
		a(0, webrtc.MimeTypePCMU, 8000, 1, ""),
		a(8, webrtc.MimeTypePCMA, 8000, 1, ""),
	}
}

// CodecFor builds the single codec a player is offered: exactly what the publisher sends, so the
// forwarder never needs to transcode (docs/protocol.md §E.3).
func CodecFor(kind webrtc.RTPCodecType, c webrtc.RTPCodecParameters) Codec {
	c.RTCPFeedback = nil
	if kind == webrtc.RTPCodecTypeVideo {
		c.RTCPFeedback = videoFeedback
	}
	return Codec{Kind: kind, Params: c}
}

// WCSName is a codec's name in WCS messages (docs/protocol.md §C.6): "VP8", "H264", "opus", "PCMA",
// "PCMU".
func WCSName(mime string) string {
	n := MimeName(mime)
	switch strings.ToLower(n) {
	case "opus":
		return "opus"
	case "vp8", "vp9", "h264", "pcma", "pcmu", "g722", "av1":
		return strings.ToUpper(n)
	}
	return n
}

func newMediaEngine(codecs []Codec) (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.Params, c.Kind); err != nil {
			return nil, fmt.Errorf("rtc: register codec %s: %w", c.Params.MimeType, err)
		}
	}
	return me, nil
}
