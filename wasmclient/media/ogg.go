package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/webrtc/v4"
)

// OggOpusSource reads Opus packets from an Ogg file (`ffmpeg -c:a libopus out.ogg`). It splits
// pages into packets by their lacing values (RFC 3533 §6) itself, because a page usually holds
// many packets and pion's oggreader returns whole pages.
type OggOpusSource struct {
	in      io.ReadSeeker
	loop    bool
	r       *OggPacketReader
	packets int // audio packets returned since the last rewind
}

// NewOggOpusSource checks the OpusHead and skips OpusTags; loop restarts the file at its end.
func NewOggOpusSource(in io.ReadSeeker, loop bool) (*OggOpusSource, error) {
	s := &OggOpusSource{in: in, loop: loop}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *OggOpusSource) open() error {
	s.r = NewOggPacketReader(s.in)
	head, err := s.r.Next()
	if err != nil {
		return fmt.Errorf("%w: ogg: %w", ErrBadFile, err)
	}
	if !bytes.HasPrefix(head, []byte("OpusHead")) {
		return fmt.Errorf("%w: ogg stream is not Opus", ErrBadFile)
	}
	tags, err := s.r.Next()
	if err != nil || !bytes.HasPrefix(tags, []byte("OpusTags")) {
		return fmt.Errorf("%w: ogg: no OpusTags packet", ErrBadFile)
	}
	s.packets = 0
	return nil
}

// Codec implements Source.
func (s *OggOpusSource) Codec() webrtc.RTPCodecCapability { return CapabilityOpus }

// Next implements Source.
func (s *OggOpusSource) Next() (Frame, error) {
	p, err := s.r.Next()
	if errors.Is(err, io.EOF) && s.loop && s.packets > 0 {
		if _, err := s.in.Seek(0, io.SeekStart); err != nil {
			return Frame{}, fmt.Errorf("media: rewind ogg: %w", err)
		}
		if err := s.open(); err != nil {
			return Frame{}, err
		}
		p, err = s.r.Next()
	}
	if err != nil {
		return Frame{}, err
	}
	if len(p) == 0 { // a zero-length packet is Opus DTX: nothing to send, the clock still runs
		return Frame{Duration: 20 * time.Millisecond}, nil
	}
	s.packets++
	return Frame{Data: p, Duration: OpusPacketDuration(p)}, nil
}

// OpusPacketDuration reads the TOC byte (RFC 6716 §3.1) and returns how long the packet plays;
// 20 ms when the packet is malformed, the browsers' default frame size.
func OpusPacketDuration(p []byte) time.Duration {
	if len(p) == 0 {
		return 20 * time.Millisecond
	}
	config := p[0] >> 3
	var frame time.Duration
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[config&3] * time.Millisecond
	case config < 16: // Hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[config&1] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[config&3] * time.Microsecond
	}
	n := 1
	switch p[0] & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 || p[1]&0x3f == 0 {
			return 20 * time.Millisecond
		}
		n = int(p[1] & 0x3f)
	}
	return frame * time.Duration(n)
}

// OggPacketReader returns the packets of the first logical stream of an Ogg file.
type OggPacketReader struct {
	r       *bufio.Reader
	serial  uint32
	started bool
	queue   [][]byte // complete packets of the current page
	partial []byte   // packet continued on the next page
}

// MaxOggPacket bounds a packet assembled across pages so a hostile file cannot exhaust memory.
const MaxOggPacket = 1 << 20

// NewOggPacketReader wraps r.
func NewOggPacketReader(r io.Reader) *OggPacketReader {
	return &OggPacketReader{r: bufio.NewReader(r)}
}

// Next returns the next packet, or io.EOF.
func (o *OggPacketReader) Next() ([]byte, error) {
	for len(o.queue) == 0 {
		if err := o.readPage(); err != nil {
			return nil, err
		}
	}
	p := o.queue[0]
	o.queue = o.queue[1:]
	return p, nil
}

func (o *OggPacketReader) readPage() error {
	var h [27]byte
	if _, err := io.ReadFull(o.r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated ogg page header", ErrBadFile)
		}
		return err
	}
	if string(h[:4]) != "OggS" || h[4] != 0 {
		return fmt.Errorf("%w: no ogg page at this position", ErrBadFile)
	}
	lacing := make([]byte, h[26])
	if _, err := io.ReadFull(o.r, lacing); err != nil {
		return fmt.Errorf("%w: truncated ogg lacing: %w", ErrBadFile, err)
	}
	serial := binary.LittleEndian.Uint32(h[14:18])
	if !o.started {
		o.serial, o.started = serial, true
	}
	size := 0
	for _, l := range lacing {
		size += int(l)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("%w: truncated ogg page: %w", ErrBadFile, err)
	}
	if serial != o.serial {
		return nil // another logical stream (e.g. video in the same file): skip it
	}
	return o.split(body, lacing, h[5]&1 != 0)
}

// split cuts a page body into packets: a lacing value below 255 ends a packet (RFC 3533 §6).
func (o *OggPacketReader) split(body, lacing []byte, continued bool) error {
	if !continued {
		o.partial = nil
	}
	off := 0
	for _, l := range lacing {
		o.partial = append(o.partial, body[off:off+int(l)]...)
		off += int(l)
		if len(o.partial) > MaxOggPacket {
			return fmt.Errorf("%w: ogg packet over %d bytes", ErrBadFile, MaxOggPacket)
		}
		if l < 255 {
			o.queue = append(o.queue, o.partial)
			o.partial = nil
		}
	}
	return nil
}
