package wasmclient

import (
	"time"

	"github.com/potok-media/potok/api/wcs"
)

// ReceiveStats describe what a player received.
type ReceiveStats struct {
	VideoCodec    string // MIME type of the received video track
	VideoPackets  uint64
	VideoBytes    uint64 // RTP payload bytes
	AudioPackets  uint64
	AudioBytes    uint64
	Keyframes     uint64 // key frames seen (counted once per RTP timestamp)
	Width         int    // picture size from the last key frame that carried one
	Height        int
	FirstPacket   time.Time // first RTP packet of any track
	FirstKeyframe time.Time // first video key frame start: when a decoder could show a picture
	RecordErrors  uint64    // packets the RecordFile writer refused
	// FramesDecoded is the browser's inbound-rtp framesDecoded (the js build decodes; the
	// native client does not, so there it stays 0).
	FramesDecoded uint64
}

// SendStats describe what a publisher sent.
type SendStats struct {
	Video TrackSendStats
	Audio TrackSendStats
}

// TrackSendStats are one sent track's counters: natively the pump's (media.PumpStats, the same
// fields), in the browser outbound-rtp's (Frames framesEncoded, Keyframes keyFramesEncoded,
// Bytes bytesSent, KeyframeRequests pliCount+firCount; WriteErrors stays 0).
type TrackSendStats struct {
	Frames, Keyframes, Packets, Bytes, WriteErrors uint64
	KeyframeRequests                               uint64    // PLI/FIR received for this track
	FirstPacket                                    time.Time // zero until the first packet is written
}

// RateSample is one inboundVideoRate / outboundVideoRate message and when it arrived (§C.18).
type RateSample struct {
	At   time.Time
	Rate wcs.VideoRate
}

// maxRateSamples bounds the rate history (about ten minutes at one per second).
const maxRateSamples = 600

// firstSent is the earliest first packet of the publisher's pumps.
func (s SendStats) firstSent() time.Time {
	a, v := s.Audio.FirstPacket, s.Video.FirstPacket
	switch {
	case a.IsZero():
		return v
	case v.IsZero() || a.Before(v):
		return a
	}
	return v
}
