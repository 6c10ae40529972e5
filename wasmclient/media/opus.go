package media

import (
	"io"
	"time"

	"github.com/pion/webrtc/v4"
)

var errEOF = io.EOF

// silentOpusFrame is a 20 ms CELT-only fullband Opus packet that decodes to silence (TOC 0xf8,
// RFC 6716 §3.1), the frame browsers send for a muted microphone.
var silentOpusFrame = []byte{0xf8, 0xff, 0xfe}

// SilentOpus yields 20 ms silent Opus packets, endlessly or for Duration.
type SilentOpus struct {
	left int // packets left, -1 = endless
}

// NewSilentOpus returns a silent Opus source; d = 0 means endless.
func NewSilentOpus(d time.Duration) *SilentOpus {
	left := -1
	if d > 0 {
		left = int(d / (20 * time.Millisecond))
	}
	return &SilentOpus{left: left}
}

// Codec implements Source.
func (s *SilentOpus) Codec() webrtc.RTPCodecCapability { return CapabilityOpus }

// Next implements Source.
func (s *SilentOpus) Next() (Frame, error) {
	if s.left == 0 {
		return Frame{}, io.EOF
	}
	if s.left > 0 {
		s.left--
	}
	return Frame{Data: silentOpusFrame, Duration: 20 * time.Millisecond}, nil
}
