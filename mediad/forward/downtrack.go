package forward

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// errNotBound is what a DownTrack answers before pion has bound it to a sender.
var errNotBound = errors.New("forward: down-track not bound")

// DownTrack is a WebRTC player's copy of a published track: a webrtc.TrackLocal for pion and a
// Down for the forwarder. Sequence numbers and timestamps are the publisher's; SSRC and payload
// type are the player's own, as negotiated in Bind. The player's RTCP feedback goes back to the
// source track (HandleRTCP).
type DownTrack struct {
	src          *Track
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability

	bound atomic.Pointer[binding]
	// relay: the subscriber is another media daemon relaying the stream, whose key-frame
	// requests are its players' already deduplicated there (SetRelay).
	relay atomic.Bool

	hdr     rtp.Header // owned by the writer goroutine
	nackHdr rtp.Header // owned by the RTCP goroutine (HandleRTCP), as are nackOut and nackBuf
	nackOut rtp.Header
	nackBuf [MaxPacketSize]byte

	// requested is when the player asked for the stream (unix nanos), for the time to its first
	// packet and key frame; 0 for a relay, whose waits are not a player's.
	requested atomic.Int64

	packets, bytes, frames   atomic.Int64
	nacks, plis, retransmits atomic.Int64
	nackMisses, lost         atomic.Int64
}

type binding struct {
	id   string
	ssrc uint32
	pt   uint8
	w    webrtc.TrackLocalWriter
}

// DownStats are cumulative counters of what was sent to one subscriber and what it reported;
// Bytes are RTP payload bytes.
type DownStats struct {
	Packets, Bytes, Frames   int64
	NACKs, PLIs, Retransmits int64
	NACKMisses, Lost         int64
}

// NewDownTrack creates a player's copy of src carrying codec c. All tracks of one player share
// streamID so the browser puts audio and video in one MediaStream (docs/protocol.md §H.3). It receives
// packets once added to src (src.AddDown).
func NewDownTrack(src *Track, id, streamID string, c webrtc.RTPCodecCapability) *DownTrack {
	d := &DownTrack{src: src, id: id, streamID: streamID, kind: src.Kind(), codec: c}
	d.requested.Store(time.Now().UnixNano())
	return d
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal (no simulcast).
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.kind }

// SetRelay marks the subscriber as a relay to another media daemon (see Track.RequestRelayKeyframe).
func (d *DownTrack) SetRelay() {
	d.relay.Store(true)
	d.requested.Store(0)
}

// RequestedAt is when the player asked for the stream (unix nanos; 0 = not timed): the start of
// potok_mediad_play_first_packet_seconds and potok_mediad_play_first_keyframe_seconds.
func (d *DownTrack) RequestedAt() int64 { return d.requested.Load() }

// Source is the published track this down-track copies.
func (d *DownTrack) Source() *Track { return d.src }

// Codec is the codec this down-track carries.
func (d *DownTrack) Codec() webrtc.RTPCodecCapability { return d.codec }

// Bind implements webrtc.TrackLocal: pick the negotiated payload type of our codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, d.codec.MimeType) && c.ClockRate == d.codec.ClockRate {
			d.bound.Store(&binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream()})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	if b := d.bound.Load(); b != nil && b.id == ctx.ID() {
		d.bound.CompareAndSwap(b, nil)
	}
	return nil
}

// SSRC is the subscriber-side SSRC once bound, else 0.
func (d *DownTrack) SSRC() uint32 {
	if b := d.bound.Load(); b != nil {
		return b.ssrc
	}
	return 0
}

// WriteRTP implements Down: one packet from the writer goroutine to pion.
func (d *DownTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	b := d.bound.Load()
	if b == nil {
		return errNotBound
	}
	if err := d.write(b, &d.hdr, h, payload); err != nil {
		return err
	}
	d.packets.Add(1)
	d.bytes.Add(int64(len(payload)))
	if h.Marker && d.kind == webrtc.RTPCodecTypeVideo {
		d.frames.Add(1)
	}
	return nil
}

// write rewrites the header into dst (a header owned by the calling goroutine, so nothing escapes
// per packet) and hands it to pion. Header extensions are dropped: their ids were negotiated with
// the publisher, not with this subscriber.
func (d *DownTrack) write(b *binding, dst, src *rtp.Header, payload []byte) error {
	*dst = *src
	dst.SSRC = b.ssrc
	dst.PayloadType = b.pt
	dst.Extension = false
	dst.ExtensionProfile = 0
	dst.Extensions = nil
	_, err := b.w.WriteRTP(dst, payload)
	return err
}

// HandleRTCP processes feedback from the subscriber (read from its RTPSender): NACKs are answered
// from the source's cache, PLI/FIR become a deduplicated keyframe request upstream, receiver
// reports give the subscriber's packet loss. Call it from one goroutine per down-track.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.TransportLayerNack:
			d.nacks.Add(1)
			d.src.metrics.NACKsReceived.Inc()
			for _, pair := range p.Nacks {
				d.retransmit(pair.PacketID)
				for i := uint16(0); i < 16; i++ {
					if pair.LostPackets&(1<<i) != 0 {
						d.retransmit(pair.PacketID + i + 1)
					}
				}
			}
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.plis.Add(1)
			if _, fir := p.(*rtcp.FullIntraRequest); fir {
				d.src.metrics.FIRsReceived.Inc()
			} else {
				d.src.metrics.PLIsReceived.Inc()
			}
			if d.relay.Load() {
				d.src.RequestRelayKeyframe()
			} else {
				d.src.RequestKeyframe()
			}
		case *rtcp.ReceiverReport:
			ssrc := d.SSRC()
			for _, r := range p.Reports {
				if r.SSRC == ssrc {
					d.lost.Store(int64(r.TotalLost))
				}
			}
		}
	}
}

// retransmit resends one cached packet, unchanged but for SSRC and payload type (no RTX: the
// WCS answer does not negotiate it). Nothing is resent before the first packet went out: the
// subscriber starts at a key frame, and what precedes it is of no use to its decoder.
func (d *DownTrack) retransmit(seq uint16) {
	b := d.bound.Load()
	if b == nil || d.packets.Load() == 0 {
		return
	}
	n := d.src.cache.Get(seq, d.nackBuf[:])
	if n == 0 {
		d.nackMisses.Add(1)
		return
	}
	hlen, err := d.nackHdr.Unmarshal(d.nackBuf[:n])
	if err != nil {
		return
	}
	if d.write(b, &d.nackOut, &d.nackHdr, d.nackBuf[hlen:n]) == nil {
		d.retransmits.Add(1)
		d.src.km.RetransmittedPackets.Inc()
	}
}

// Stats returns the cumulative counters.
func (d *DownTrack) Stats() DownStats {
	return DownStats{
		Packets: d.packets.Load(), Bytes: d.bytes.Load(), Frames: d.frames.Load(),
		NACKs: d.nacks.Load(), PLIs: d.plis.Load(), Retransmits: d.retransmits.Load(),
		NACKMisses: d.nackMisses.Load(), Lost: d.lost.Load(),
	}
}
