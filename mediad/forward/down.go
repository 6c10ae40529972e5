package forward

import (
	"sync/atomic"

	"github.com/pion/rtp"
)

// Down is where a published track's packets go: the seam between the forwarder and every kind of
// consumer (Galène's conn.DownTrack is the model). A WebRTC player's track (DownTrack) is the
// first; a relay to another mediad, a SIP RTP leg, a recorder, an RTMP or HLS muxer and a WHEP
// player are the same thing to the forwarder.
//
// WriteRTP is called from one writer goroutine at a time. hdr and payload belong to the forwarder
// and are valid only during the call: a Down that keeps a packet copies it. It must not block: a
// Down slower than the stream keeps its own bounded queue and drops from it, so it never slows
// the writer's other Downs. It returns an error when the packet was not sent (not ready, closed);
// the forwarder counts only packets that were.
//
// A video Down receives nothing until the first key frame after it was added (the track asks
// the publisher for one), so every Down starts with a decodable picture.
type Down interface {
	WriteRTP(hdr *rtp.Header, payload []byte) error
}

// subscription is the forwarder's side of one attached Down: which writer serves it and whether
// it still waits for a key frame.
type subscription struct {
	down    Down
	writer  *writer     // guarded by Track.mu
	waitKey atomic.Bool // set when added (video); cleared by the writer at the first key frame
	// requested (unix nanos, 0 = not timed) starts the time to the first packet and key frame;
	// started is set by the writer at the first packet written (writer-owned).
	requested int64
	started   bool
}

// requestedAt is when a Down's player asked for the stream, for Downs that say (DownTrack).
func requestedAt(d Down) int64 {
	if r, ok := d.(interface{ RequestedAt() int64 }); ok {
		return r.RequestedAt()
	}
	return 0
}
