package wasmclient

import (
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient/media"
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
}

// SendStats describe what a publisher sent.
type SendStats struct {
	Video media.PumpStats
	Audio media.PumpStats
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
