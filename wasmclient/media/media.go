// Package media holds the media sources of the Potok client: synthetic VP8 and Opus generators for
// load tests, and paced readers of IVF (VP8), Annex-B (H.264) and Ogg (Opus) files. A Source yields
// encoded frames; a Pump paces them in real time and packetizes them into RTP.
package media

import (
	"errors"
	"time"

	"github.com/pion/webrtc/v4"
)

// Codec capabilities of the sources, matching what the WebSDK's browsers offer and what WCS answers
// (docs/protocol.md §H.3: opus/48000/2, VP8, H.264 packetization-mode 1).
var (
	CapabilityVP8 = webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
		RTCPFeedback: videoFeedback,
	}
	CapabilityH264 = webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		RTCPFeedback: videoFeedback,
	}
	CapabilityOpus = webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		SDPFmtpLine: "minptime=10;useinbandfec=1",
	}
	videoFeedback = []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
)

// ErrBadFile is wrapped by the file sources when the input is not what they read.
var ErrBadFile = errors.New("media: bad input file")

// Frame is one encoded frame (a VP8 frame, an H.264 access unit in Annex-B form, an Opus packet).
type Frame struct {
	Data     []byte
	Duration time.Duration // how long the frame lasts; the pump sends the next one this much later
	Keyframe bool
}

// Source yields encoded frames in order. Next returns io.EOF at the end of a finite source.
// A Source is used by one goroutine at a time.
type Source interface {
	Codec() webrtc.RTPCodecCapability
	Next() (Frame, error)
}

// KeyframeRequester is implemented by sources that can produce a keyframe on demand, so a PLI or
// FIR from the server is honoured (mediad asks for one when a player joins, docs/protocol.md §E.3).
type KeyframeRequester interface {
	RequestKeyframe()
}

// IsVideo reports whether a capability is a video codec.
func IsVideo(c webrtc.RTPCodecCapability) bool {
	return len(c.MimeType) > 6 && c.MimeType[:6] == "video/"
}
