package media

import (
	"bytes"
	"testing"
)

func FuzzOggPacketReader(f *testing.F) {
	f.Add(oggPage(1, false, []byte("OpusHead-----------")))
	f.Add(append(oggPage(1, false, bytes.Repeat([]byte{1}, 300)), oggPage(1, true, []byte{2})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewOggPacketReader(bytes.NewReader(b))
		for range 1000 {
			p, err := r.Next()
			if err != nil {
				return
			}
			if len(p) > MaxOggPacket+255 {
				t.Fatalf("packet of %d bytes", len(p))
			}
		}
	})
}

func FuzzFileSources(f *testing.F) {
	f.Add([]byte("DKIF\x00\x00\x20\x00VP80\x40\x01\xf0\x00\x1e\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x02\x00"))
	f.Add([]byte("\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x00\x01\x65\x88\x84"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := NewIVFSource(bytes.NewReader(b), true); err == nil {
			drain(s)
		}
		if s, err := NewH264Source(bytes.NewReader(b), 30, true); err == nil {
			drain(s)
		}
		if s, err := NewOggOpusSource(bytes.NewReader(b), true); err == nil {
			drain(s)
		}
		_ = OpusPacketDuration(b)
	})
}

// drain reads a bounded number of frames: looping sources never end on valid input.
func drain(s Source) {
	for range 200 {
		if _, err := s.Next(); err != nil {
			return
		}
	}
}
