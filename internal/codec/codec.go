// Package codec probes RTP payloads for what a media server needs without decoding: whether a
// packet starts a key frame and, when the bitstream says so, the picture size. The forwarder uses
// it to start subscribers at a key frame and to report width/height (docs/protocol.md §C.7, §C.18).
// Every function takes attacker-controlled bytes and must never panic.
package codec

import "strings"

// Codec names as they appear in WCS messages and in pion MIME types ("video/VP8").
const (
	VP8  = "VP8"
	H264 = "H264"
)

// IsKeyframe reports whether payload (an RTP payload of the given codec) begins a key frame.
// codec is a WCS name ("VP8", "H264") or a MIME type ("video/VP8"); unknown codecs are never key
// frames (audio has none).
func IsKeyframe(codec string, payload []byte) bool {
	if i := strings.IndexByte(codec, '/'); i >= 0 {
		codec = codec[i+1:]
	}
	switch {
	case strings.EqualFold(codec, VP8):
		_, _, ok := VP8Keyframe(payload)
		return ok
	case strings.EqualFold(codec, H264):
		_, _, key, ok := H264Keyframe(payload)
		return ok && key
	}
	return false
}

// Dimensions returns the picture size carried by a key-frame payload, or ok=false when the payload
// does not carry one (not a key frame start, or an H.264 key frame without SPS in this packet).
func Dimensions(codec string, payload []byte) (width, height int, ok bool) {
	if i := strings.IndexByte(codec, '/'); i >= 0 {
		codec = codec[i+1:]
	}
	switch {
	case strings.EqualFold(codec, VP8):
		return VP8Keyframe(payload)
	case strings.EqualFold(codec, H264):
		w, h, _, ok := H264Keyframe(payload)
		return w, h, ok && w > 0 && h > 0
	}
	return 0, 0, false
}
