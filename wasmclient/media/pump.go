package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// MTU is the RTP payload budget, pion's default for sample tracks: it leaves room for SRTP and
// the IP/UDP headers on any real path.
const MTU = 1200

// RTPWriter receives packets; *webrtc.TrackLocalStaticRTP is one (it rewrites SSRC and payload
// type per binding).
type RTPWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// PumpStats are counters of what a Pump has written.
type PumpStats struct {
	Frames, Keyframes, Packets, Bytes, WriteErrors uint64
	KeyframeRequests                               uint64    // PLI/FIR received for this track
	FirstPacket                                    time.Time // zero until the first packet is written
}

// Pump paces a Source in real time and writes it as RTP.
type Pump struct {
	src        Source
	w          RTPWriter
	packetizer rtp.Packetizer
	clockRate  uint32
	elapsed    time.Duration // media time sent so far
	samples    uint64        // RTP clock ticks sent so far: round(elapsed) without drift

	frames, keyframes, packets, bytes, writeErrors atomic.Uint64
	keyframeRequests                               atomic.Uint64
	firstPacket                                    atomic.Int64 // unix nanoseconds
	muted                                          atomic.Bool
}

// NewPump builds a pump for src writing to w.
func NewPump(src Source, w RTPWriter) (*Pump, error) {
	c := src.Codec()
	payloader, err := payloaderFor(c.MimeType)
	if err != nil {
		return nil, err
	}
	p := &Pump{src: src, w: w, clockRate: c.ClockRate}
	p.packetizer = rtp.NewPacketizer(MTU, 0, 0, payloader, rtp.NewRandomSequencer(), c.ClockRate)
	return p, nil
}

func payloaderFor(mime string) (rtp.Payloader, error) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return &codecs.VP8Payloader{EnablePictureID: true}, nil
	case strings.ToLower(webrtc.MimeTypeH264):
		return &codecs.H264Payloader{}, nil
	case strings.ToLower(webrtc.MimeTypeOpus):
		return &codecs.OpusPayloader{}, nil
	}
	return nil, fmt.Errorf("media: no payloader for %q", mime)
}

// Run sends frames until the source ends (nil) or ctx is done (nil). Other source errors are
// returned. Write errors (no binding yet, peer closing) are counted, not fatal.
func (p *Pump) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	next := time.Now()
	for {
		f, err := p.src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("media: source %s: %w", p.src.Codec().MimeType, err)
		}
		p.send(f)
		next = next.Add(f.Duration)
		wait := time.Until(next)
		if wait < -time.Second {
			// Far behind (a stalled machine): restart the schedule instead of bursting.
			next, wait = time.Now(), 0
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
}

func (p *Pump) send(f Frame) {
	p.frames.Add(1)
	if f.Keyframe {
		p.keyframes.Add(1)
	}
	// Derive each frame's tick count from the running total, so 1/30 s frames advance the
	// 90 kHz clock by exactly 3000 on average instead of a truncated 2999.
	p.elapsed += max(f.Duration, 0)
	total := ticks(p.elapsed, p.clockRate)
	samples := uint32(total - p.samples)
	p.samples = total
	if len(f.Data) == 0 || p.muted.Load() {
		p.packetizer.SkipSamples(samples)
		return
	}
	for _, pkt := range p.packetizer.Packetize(f.Data, samples) {
		if err := p.w.WriteRTP(pkt); err != nil {
			p.writeErrors.Add(1)
			continue
		}
		p.firstPacket.CompareAndSwap(0, time.Now().UnixNano())
		p.packets.Add(1)
		p.bytes.Add(uint64(len(pkt.Payload)))
	}
}

// Stats returns the counters so far; safe to call concurrently with Run.
func (p *Pump) Stats() PumpStats {
	s := PumpStats{
		Frames: p.frames.Load(), Keyframes: p.keyframes.Load(), Packets: p.packets.Load(),
		Bytes: p.bytes.Load(), WriteErrors: p.writeErrors.Load(), KeyframeRequests: p.keyframeRequests.Load(),
	}
	if ns := p.firstPacket.Load(); ns != 0 {
		s.FirstPacket = time.Unix(0, ns)
	}
	return s
}

// SetMuted stops (true) or resumes sending: muted frames advance the RTP clock without packets,
// as an empty frame does.
// Unmuting asks the source for a key frame, so that players show a picture at once.
func (p *Pump) SetMuted(muted bool) {
	if p.muted.Swap(muted) && !muted {
		if k, ok := p.src.(KeyframeRequester); ok {
			k.RequestKeyframe()
		}
	}
}

// RequestKeyframe forwards a keyframe request to the source if it can honour one.
func (p *Pump) RequestKeyframe() {
	p.keyframeRequests.Add(1)
	if k, ok := p.src.(KeyframeRequester); ok {
		k.RequestKeyframe()
	}
}

// ticks converts media time to RTP clock ticks, rounded, in 128-bit arithmetic so long runs do
// not overflow.
func ticks(d time.Duration, clockRate uint32) uint64 {
	hi, lo := bits.Mul64(uint64(d), uint64(clockRate))
	lo, carry := bits.Add64(lo, uint64(time.Second)/2, 0)
	q, _ := bits.Div64(hi+carry, lo, uint64(time.Second))
	return q
}
