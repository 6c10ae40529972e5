package sipleg

import (
	"fmt"
	"math"
	"net"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Reception statistics of the peer's stream (RFC 3550 section 6.4, appendix A.3 and A.8): what is lost,
// by sequence number, and the interarrival jitter of the chosen codec's packets. Run updates them
// (one goroutine); ReceiverReport and Stats read them.

// recvStats is the state of appendix A.1 and A.8, guarded by Leg.rsMu.
type recvStats struct {
	started     bool
	ssrc        uint32 // the peer's
	baseSeq     uint32
	maxSeq      uint16
	cycles      uint32 // sequence number wraps, shifted by 16
	received    uint32
	expectedPri uint32 // at the last report: for the fraction lost since
	receivedPri uint32
	transit     int64   // of the previous packet, in timestamp units
	jitter      float64 // in timestamp units
	hasTransit  bool
}

// clock is what jitter is measured against: the payload type of the chosen codec and its rate.
type clock struct {
	pt   atomic.Int32 // -1: none yet
	rate atomic.Uint32
}

// SetClock names the payload type whose packets the jitter is measured on, and its clock rate.
func (l *Leg) SetClock(pt uint8, rate uint32) {
	l.clk.rate.Store(rate)
	l.clk.pt.Store(int32(pt))
}

// observe counts one packet from the peer (Run's goroutine), arriving at now.
func (l *Leg) observe(pkt *rtp.Packet, now time.Time) {
	s := &l.rs
	l.rsMu.Lock()
	defer l.rsMu.Unlock()
	seq := pkt.SequenceNumber
	if !s.started || pkt.SSRC != s.ssrc { // a new source (the peer restarted): start over
		*s = recvStats{started: true, ssrc: pkt.SSRC, baseSeq: uint32(seq), maxSeq: seq - 1}
	}
	s.received++
	if delta := seq - s.maxSeq; delta < 1<<15 { // in order, maybe with a gap
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	}
	rate := l.clk.rate.Load()
	if rate == 0 || int32(pkt.PayloadType) != l.clk.pt.Load() {
		return
	}
	arrival := int64(float64(now.UnixNano()) * float64(rate) / 1e9)
	transit := arrival - int64(pkt.Timestamp)
	if s.hasTransit {
		d := float64(transit - s.transit)
		s.jitter += (math.Abs(d) - s.jitter) / 16
	}
	s.transit, s.hasTransit = transit, true
}

// lostLocked is the cumulative number lost (appendix A.3): expected less received, at least 0.
func (s *recvStats) lostLocked() (expected uint32, lost int64) {
	expected = s.cycles + uint32(s.maxSeq) - s.baseSeq + 1
	return expected, max(0, int64(expected)-int64(s.received))
}

// ReceiverReport is an RTCP receiver report of the peer's stream, and moves the interval of
// "fraction lost" on. Nil before the first packet.
func (l *Leg) ReceiverReport() *rtcp.ReceiverReport {
	s := &l.rs
	l.rsMu.Lock()
	defer l.rsMu.Unlock()
	if !s.started {
		return nil
	}
	expected, lost := s.lostLocked()
	expInt, recvInt := expected-s.expectedPri, s.received-s.receivedPri
	s.expectedPri, s.receivedPri = expected, s.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(lostInt * 256 / int64(expInt))
	}
	return &rtcp.ReceiverReport{SSRC: l.ssrc, Reports: []rtcp.ReceptionReport{{
		SSRC: s.ssrc, FractionLost: fraction, TotalLost: uint32(min(lost, 1<<23-1)),
		LastSequenceNumber: s.cycles | uint32(s.maxSeq), Jitter: uint32(s.jitter),
	}}}
}

// SendReport sends a receiver report to the peer's RTCP port, the one after its RTP port (RFC
// 3550 section 11; rtcp-mux is not negotiated with SIP peers). It is sent from the RTP socket: the
// leg reads no RTCP. Nothing is sent before the first packet from the peer.
func (l *Leg) SendReport() error {
	rr := l.ReceiverReport()
	if rr == nil {
		return nil
	}
	b, err := rr.Marshal()
	if err != nil {
		return fmt.Errorf("sipleg: RTCP: %w", err)
	}
	l.mu.Lock()
	remote := l.remote
	l.mu.Unlock()
	if remote == nil {
		return errNoRemote
	}
	to := &net.UDPAddr{IP: remote.IP, Port: remote.Port + 1}
	if _, err := l.conn.WriteToUDP(b, to); err != nil {
		return fmt.Errorf("sipleg: RTCP: %w", err)
	}
	return nil
}

// Reception is what the leg has seen of the peer's stream.
type Reception struct {
	Lost   int64         // packets lost so far (RFC 3550 A.3)
	Jitter time.Duration // interarrival jitter now (A.8), 0 until measured
}

// Reception reads the reception statistics.
func (l *Leg) Reception() Reception {
	s := &l.rs
	l.rsMu.Lock()
	defer l.rsMu.Unlock()
	if !s.started {
		return Reception{}
	}
	_, lost := s.lostLocked()
	r := Reception{Lost: lost}
	if rate := l.clk.rate.Load(); rate > 0 {
		r.Jitter = time.Duration(s.jitter / float64(rate) * float64(time.Second))
	}
	return r
}
