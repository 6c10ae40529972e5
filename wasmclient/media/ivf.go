package media

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// IVFSource reads VP8 frames from an IVF file (what `ffmpeg -c:v libvpx out.ivf` writes).
type IVFSource struct {
	in       io.ReadSeeker
	loop     bool
	r        *ivfreader.IVFReader
	tick     time.Duration // one timebase unit
	pending  []byte        // frame read ahead, to learn its duration from the next timestamp
	pendTS   uint64
	lastDur  time.Duration
	finished bool
}

// NewIVFSource reads the IVF header; loop restarts the file at its end.
func NewIVFSource(in io.ReadSeeker, loop bool) (*IVFSource, error) {
	s := &IVFSource{in: in, loop: loop}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *IVFSource) open() error {
	r, h, err := ivfreader.NewWith(s.in)
	if err != nil {
		return fmt.Errorf("%w: ivf: %w", ErrBadFile, err)
	}
	if string(h.FourCC[:]) != "VP80" {
		return fmt.Errorf("%w: ivf fourcc %q, only VP80 is supported", ErrBadFile, h.FourCC[:])
	}
	if h.TimebaseDenominator == 0 || h.TimebaseNumerator == 0 {
		return fmt.Errorf("%w: ivf timebase %d/%d", ErrBadFile, h.TimebaseNumerator, h.TimebaseDenominator)
	}
	s.r = r
	s.tick = time.Second * time.Duration(h.TimebaseNumerator) / time.Duration(h.TimebaseDenominator)
	s.lastDur = time.Second / 30
	s.pending = nil
	return s.readAhead()
}

func (s *IVFSource) readAhead() error {
	f, h, err := s.r.ParseNextFrame()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		s.pending = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: ivf frame: %w", ErrBadFile, err)
	}
	s.pending, s.pendTS = f, h.Timestamp
	return nil
}

// Codec implements Source.
func (s *IVFSource) Codec() webrtc.RTPCodecCapability { return CapabilityVP8 }

// Next implements Source.
func (s *IVFSource) Next() (Frame, error) {
	if s.pending == nil {
		if !s.loop || s.finished {
			return Frame{}, io.EOF
		}
		if _, err := s.in.Seek(0, io.SeekStart); err != nil {
			return Frame{}, fmt.Errorf("media: rewind ivf: %w", err)
		}
		if err := s.open(); err != nil {
			return Frame{}, err
		}
		if s.pending == nil { // an empty file would loop forever
			s.finished = true
			return Frame{}, io.EOF
		}
	}
	data, ts := s.pending, s.pendTS
	if err := s.readAhead(); err != nil {
		return Frame{}, err
	}
	dur := s.lastDur
	if s.pending != nil && s.pendTS > ts && s.pendTS-ts < 1<<20 {
		dur = time.Duration(s.pendTS-ts) * s.tick
		s.lastDur = dur
	}
	return Frame{Data: data, Duration: dur, Keyframe: len(data) > 0 && data[0]&1 == 0}, nil
}
