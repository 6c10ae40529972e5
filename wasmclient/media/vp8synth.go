package media

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// SyntheticVP8Options configure a SyntheticVP8 source.
type SyntheticVP8Options struct {
	Width, Height    int           // picture size written into every keyframe header (1..16383)
	FPS              int           // frames per second (default 30)
	Bitrate          int           // target bits per second (default 1,000,000)
	KeyframeInterval int           // frames between keyframes (default 2 s worth)
	Duration         time.Duration // 0 = endless
}

// SyntheticVP8 generates frames whose headers are valid VP8 (RFC 6386 §9.1: frame tag, start code
// 9d 01 2a, 14-bit width and height) at the configured size and rate. The bodies are filler, so the
// frames do not decode to pixels, but a server parsing the bitstream reads the right dimensions and
// the packet counts and sizes are those of a real stream at that bitrate.
type SyntheticVP8 struct {
	opts      SyntheticVP8Options
	frame     int
	total     int // frames to emit, 0 = endless
	forceKey  atomic.Bool
	keySize   int
	interSize int
	buf       []byte
}

// NewSyntheticVP8 validates the options and returns the source.
func NewSyntheticVP8(o SyntheticVP8Options) (*SyntheticVP8, error) {
	if o.Width <= 0 || o.Width > 0x3fff || o.Height <= 0 || o.Height > 0x3fff {
		return nil, fmt.Errorf("media: synthetic VP8 size %dx%d out of range 1..16383", o.Width, o.Height)
	}
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Bitrate == 0 {
		o.Bitrate = 1_000_000
	}
	if o.FPS < 0 || o.FPS > 240 || o.Bitrate < 0 || o.KeyframeInterval < 0 {
		return nil, fmt.Errorf("media: synthetic VP8 fps %d, bitrate %d or keyframe interval %d invalid",
			o.FPS, o.Bitrate, o.KeyframeInterval)
	}
	if o.KeyframeInterval == 0 {
		o.KeyframeInterval = 2 * o.FPS
	}
	s := &SyntheticVP8{opts: o}
	if o.Duration > 0 {
		s.total = int(o.Duration * time.Duration(o.FPS) / time.Second)
	}
	s.keySize, s.interSize = frameSizes(o.Bitrate, o.FPS, o.KeyframeInterval)
	s.buf = make([]byte, s.keySize)
	fill(s.buf)
	return s, nil
}

// frameSizes splits the per-GOP byte budget so a keyframe is about four times an inter frame, as
// with real encoders, and the average rate is the target.
func frameSizes(bitrate, fps, gop int) (key, inter int) {
	gopBytes := bitrate / 8 * gop / fps
	inter = gopBytes / (gop + 3)
	key = gopBytes - inter*(gop-1)
	return max(key, vp8KeyHeaderLen+1), max(inter, vp8InterHeaderLen+1)
}

// fill writes a fixed non-zero pattern so the payload is not trivially compressible by anything
// on the path.
func fill(b []byte) {
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}

// Codec implements Source.
func (s *SyntheticVP8) Codec() webrtc.RTPCodecCapability { return CapabilityVP8 }

// RequestKeyframe implements KeyframeRequester: the next frame is a keyframe.
func (s *SyntheticVP8) RequestKeyframe() { s.forceKey.Store(true) }

// Next implements Source. The returned Data is valid until the next call.
func (s *SyntheticVP8) Next() (Frame, error) {
	if s.total > 0 && s.frame >= s.total {
		return Frame{}, errEOF
	}
	key := s.frame%s.opts.KeyframeInterval == 0 || s.forceKey.Swap(false)
	s.frame++
	dur := time.Second / time.Duration(s.opts.FPS)
	if key {
		b := s.buf[:s.keySize]
		PutVP8KeyframeHeader(b, s.opts.Width, s.opts.Height)
		return Frame{Data: b, Duration: dur, Keyframe: true}, nil
	}
	b := s.buf[:s.interSize]
	putVP8FrameTag(b, false, len(b)-vp8InterHeaderLen)
	return Frame{Data: b, Duration: dur}, nil
}

const (
	vp8InterHeaderLen = 3  // frame tag
	vp8KeyHeaderLen   = 10 // frame tag, start code, width, height
)

// PutVP8KeyframeHeader writes a VP8 keyframe header into b[:10] (RFC 6386 §9.1, §19.1): the frame
// tag (key frame, version 0, shown, first partition = rest of b), the start code and the 14-bit
// width and height with scale 0. b must be at least 10 bytes.
func PutVP8KeyframeHeader(b []byte, width, height int) {
	putVP8FrameTag(b, true, len(b)-vp8KeyHeaderLen)
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	b[6], b[7] = byte(width), byte(width>>8)&0x3f
	b[8], b[9] = byte(height), byte(height>>8)&0x3f
}

// putVP8FrameTag writes the 3-byte frame tag: bit 0 is 0 for a keyframe, bits 1-3 the version,
// bit 4 show_frame, bits 5-23 the first partition size.
func putVP8FrameTag(b []byte, key bool, partSize int) {
	partSize = min(max(partSize, 0), 1<<19-1)
	tag := uint32(partSize)<<5 | 1<<4 // version 0, shown
	if !key {
		tag |= 1
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
}
