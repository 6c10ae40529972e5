package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
)

// H264Source reads access units from an H.264 Annex-B elementary stream (`ffmpeg -c:v libx264
// -bsf:v h264_mp4toannexb -f h264`). Annex-B carries no timing, so frames are paced at FPS.
type H264Source struct {
	in       io.ReadSeeker
	loop     bool
	fps      int
	r        *h264reader.H264Reader
	next     *h264reader.NAL // NAL read ahead that starts the next access unit
	sawSlice bool            // the file holds at least one frame, so looping cannot spin
}

// NewH264Source starts reading; fps 0 means 30.
func NewH264Source(in io.ReadSeeker, fps int, loop bool) (*H264Source, error) {
	if fps == 0 {
		fps = 30
	}
	if fps < 0 || fps > 240 {
		return nil, fmt.Errorf("media: h264 fps %d out of range", fps)
	}
	s := &H264Source{in: in, loop: loop, fps: fps}
	r, err := h264reader.NewReader(in)
	if err != nil {
		return nil, fmt.Errorf("%w: h264: %w", ErrBadFile, err)
	}
	s.r = r
	return s, nil
}

// Codec implements Source.
func (s *H264Source) Codec() webrtc.RTPCodecCapability { return CapabilityH264 }

// Next implements Source: one access unit (all NALs up to the next frame's first slice), written
// in Annex-B form, which pion's H264Payloader splits again.
func (s *H264Source) Next() (Frame, error) {
	f, err := s.readAU()
	if errors.Is(err, io.EOF) && s.loop && s.sawSlice {
		if err := s.rewind(); err != nil {
			return Frame{}, err
		}
		f, err = s.readAU()
	}
	return f, err
}

func (s *H264Source) rewind() error {
	if _, err := s.in.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("media: rewind h264: %w", err)
	}
	r, err := h264reader.NewReader(s.in)
	if err != nil {
		return fmt.Errorf("%w: h264: %w", ErrBadFile, err)
	}
	s.r, s.next = r, nil
	return nil
}

func (s *H264Source) readAU() (Frame, error) {
	var au bytes.Buffer
	key, haveSlice := false, false
	for {
		nal := s.next
		s.next = nil
		if nal == nil {
			var err error
			nal, err = s.r.NextNAL()
			if err != nil {
				if errors.Is(err, io.EOF) && haveSlice {
					break
				}
				if errors.Is(err, io.EOF) {
					return Frame{}, io.EOF
				}
				return Frame{}, fmt.Errorf("%w: h264 nal: %w", ErrBadFile, err)
			}
		}
		if haveSlice && startsAccessUnit(nal) {
			s.next = nal
			break
		}
		if isSlice(nal.UnitType) {
			haveSlice, s.sawSlice = true, true
		}
		if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr {
			key = true
		}
		au.Write([]byte{0, 0, 0, 1})
		au.Write(nal.Data)
	}
	return Frame{Data: au.Bytes(), Duration: time.Second / time.Duration(s.fps), Keyframe: key}, nil
}

func isSlice(t h264reader.NalUnitType) bool {
	return t == h264reader.NalUnitTypeCodedSliceNonIdr || t == h264reader.NalUnitTypeCodedSliceIdr
}

// startsAccessUnit applies H.264 §7.4.1.2.3 in its simple form: after a slice, an AUD, SPS, PPS
// or SEI, or a slice whose first_mb_in_slice is 0, begins the next access unit.
func startsAccessUnit(n *h264reader.NAL) bool {
	switch n.UnitType {
	case h264reader.NalUnitTypeAUD, h264reader.NalUnitTypeSPS, h264reader.NalUnitTypePPS, h264reader.NalUnitTypeSEI:
		return true
	case h264reader.NalUnitTypeCodedSliceNonIdr, h264reader.NalUnitTypeCodedSliceIdr:
		// first_mb_in_slice is ue(v) right after the 1-byte NAL header; ue(v) == 0 is a single '1' bit.
		return len(n.Data) > 1 && n.Data[1]&0x80 != 0
	}
	return false
}
