package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4"
)

// MaxIVFFrame bounds one frame so a corrupt size field cannot exhaust memory.
const MaxIVFFrame = 8 << 20

// IVFSource reads VP8 frames from an IVF file (what `ffmpeg -c:v libvpx out.ivf` writes). The
// container is read here rather than with pion's ivfreader, whose frame timestamps are scaled by
// the rate twice and lose precision for timebases such as 1001/30000.
type IVFSource struct {
	in      io.ReadSeeker
	loop    bool
	scale   uint64 // timebase numerator: seconds per tick = scale/rate
	rate    uint64
	pending []byte // frame read ahead, to learn its duration from the next timestamp
	pendPTS uint64
	lastDur time.Duration
	frames  int // frames returned since the last rewind
}

// NewIVFSource reads the IVF header; loop restarts the file at its end.
func NewIVFSource(in io.ReadSeeker, loop bool) (*IVFSource, error) {
	s := &IVFSource{in: in, loop: loop, lastDur: time.Second / 30}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open parses the 32-byte file header: "DKIF", version, header size, fourcc, width, height,
// rate (timebase denominator), scale (numerator), frame count.
func (s *IVFSource) open() error {
	var h [32]byte
	if _, err := io.ReadFull(s.in, h[:]); err != nil {
		return fmt.Errorf("%w: ivf header: %w", ErrBadFile, err)
	}
	if string(h[:4]) != "DKIF" {
		return fmt.Errorf("%w: not an IVF file", ErrBadFile)
	}
	if string(h[8:12]) != "VP80" {
		return fmt.Errorf("%w: ivf fourcc %q, only VP80 is supported", ErrBadFile, h[8:12])
	}
	hdrLen := int64(binary.LittleEndian.Uint16(h[6:8]))
	s.rate, s.scale = uint64(binary.LittleEndian.Uint32(h[16:20])), uint64(binary.LittleEndian.Uint32(h[20:24]))
	if s.rate == 0 || s.scale == 0 {
		return fmt.Errorf("%w: ivf timebase %d/%d", ErrBadFile, s.scale, s.rate)
	}
	if hdrLen > 32 {
		if _, err := s.in.Seek(hdrLen-32, io.SeekCurrent); err != nil {
			return fmt.Errorf("%w: ivf header: %w", ErrBadFile, err)
		}
	}
	s.frames = 0
	return s.readAhead()
}

func (s *IVFSource) readAhead() error {
	s.pending = nil
	var h [12]byte
	if _, err := io.ReadFull(s.in, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // end of file (a truncated last frame is dropped)
		}
		return fmt.Errorf("media: ivf: %w", err)
	}
	size := binary.LittleEndian.Uint32(h[:4])
	if size == 0 || size > MaxIVFFrame {
		return fmt.Errorf("%w: ivf frame of %d bytes", ErrBadFile, size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(s.in, data); err != nil {
		return nil
	}
	s.pending, s.pendPTS = data, binary.LittleEndian.Uint64(h[4:12])
	return nil
}

// Codec implements Source.
func (s *IVFSource) Codec() webrtc.RTPCodecCapability { return CapabilityVP8 }

// Next implements Source.
func (s *IVFSource) Next() (Frame, error) {
	if s.pending == nil {
		if !s.loop || s.frames == 0 { // an empty file must not loop forever
			return Frame{}, io.EOF
		}
		if _, err := s.in.Seek(0, io.SeekStart); err != nil {
			return Frame{}, fmt.Errorf("media: rewind ivf: %w", err)
		}
		if err := s.open(); err != nil {
			return Frame{}, err
		}
		if s.pending == nil {
			return Frame{}, io.EOF
		}
	}
	data, pts := s.pending, s.pendPTS
	if err := s.readAhead(); err != nil {
		return Frame{}, err
	}
	s.frames++
	dur := s.lastDur
	if s.pending != nil && s.pendPTS > pts {
		if d := s.ticks(s.pendPTS - pts); d > 0 && d <= 10*time.Second {
			dur = d
			s.lastDur = d
		}
	}
	return Frame{Data: data, Duration: dur, Keyframe: data[0]&1 == 0}, nil
}

// ticks converts timebase ticks to a duration without overflow for sane values.
func (s *IVFSource) ticks(n uint64) time.Duration {
	if n > 1<<32 {
		return 0
	}
	return time.Duration(n * s.scale * uint64(time.Second) / s.rate)
}
