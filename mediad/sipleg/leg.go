package sipleg

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Ports hands out the RTP ports of the legs from a range (--rtp-ports): even ports, each bound
// for one leg (its RTCP port, the next odd one, is left alone: RTCP is not read yet).
type Ports struct {
	IP       net.IP // the bind address; also what the SDP advertises unless Public is set
	Public   net.IP // advertised instead of IP (NAT 1:1); nil = IP
	Min, Max int    // inclusive; 0, 0 = any free port

	mu   sync.Mutex
	next int
}

// Open binds a leg's UDP socket on the next free even port of the range.
func (p *Ports) Open() (*net.UDPConn, error) {
	if p.Min == 0 && p.Max == 0 {
		return net.ListenUDP("udp", &net.UDPAddr{IP: p.IP})
	}
	lo, hi := p.Min+p.Min%2, p.Max
	if lo > hi {
		return nil, fmt.Errorf("sipleg: RTP port range %d-%d has no even port", p.Min, p.Max)
	}
	n := (hi-lo)/2 + 1
	p.mu.Lock()
	start := p.next
	p.next = (p.next + 1) % n
	p.mu.Unlock()
	for i := range n {
		port := lo + 2*((start+i)%n)
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: p.IP, Port: port})
		if err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("sipleg: no free RTP port in %d-%d", p.Min, p.Max)
}

// Advertised is the address the SDP names.
func (p *Ports) Advertised() net.IP {
	if p.Public != nil {
		return p.Public
	}
	if p.IP == nil || p.IP.IsUnspecified() {
		return net.IPv4(127, 0, 0, 1)
	}
	return p.IP
}

// Leg is one call's RTP socket towards the SIP peer. Sending is the forwarder's side (WriteRTP,
// a forward.Down): the WebRTC leg's packets go out with the SIP side's payload types and the
// leg's own SSRC. Receiving is Run's: packets from the peer go to a sink. The peer's address is
// the one its SDP gives until its first packet arrives; from then on the leg answers where the
// packets come from (symmetric RTP, "comedia": a peer behind NAT is reached at its public port).
type Leg struct {
	conn *net.UDPConn
	ssrc uint32

	mu     sync.Mutex
	remote *net.UDPAddr
	pts    map[uint8]uint8 // WebRTC payload type → SIP payload type
	buf    []byte
	seq    uint16 // the leg numbers what it sends itself: forwarded audio and its own DTMF share it
	lastTS uint32 // the last timestamp sent (a DTMF event starts there)
	lastOK bool

	latched atomic.Bool
	held    atomic.Bool // on hold: nothing is relayed either way

	sent, received, dropped atomic.Uint64

	rsMu sync.Mutex
	rs   recvStats // of the peer's stream (stats.go)
	clk  clock
}

// NewLeg wraps conn; ssrc is what the leg's packets carry.
func NewLeg(conn *net.UDPConn, ssrc uint32) *Leg {
	l := &Leg{conn: conn, ssrc: ssrc, buf: make([]byte, 1500), pts: map[uint8]uint8{}}
	l.clk.pt.Store(-1)
	return l
}

// LocalPort is the leg's bound port.
func (l *Leg) LocalPort() int { return l.conn.LocalAddr().(*net.UDPAddr).Port }

// SetRemote sets where the peer receives (its SDP), unless a packet has already shown where it
// is, and the payload type map of what the leg sends.
func (l *Leg) SetRemote(addr *net.UDPAddr, pts map[uint8]uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.latched.Load() {
		l.remote = addr
	}
	l.pts = pts
}

// Hold stops (true) or resumes relaying both ways.
func (l *Leg) Hold(on bool) { l.held.Store(on) }

// errNoRemote: the leg does not know where the peer is yet.
var errNoRemote = errors.New("sipleg: no remote address yet")

// WriteRTP sends one packet of the WebRTC leg to the peer, with its payload type mapped (a type
// the SIP side did not negotiate is dropped). It is a forward.Down: hdr and payload are the
// caller's and not kept.
func (l *Leg) WriteRTP(hdr *rtp.Header, payload []byte) error {
	if l.held.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	pt, ok := l.pts[hdr.PayloadType]
	if !ok || l.remote == nil {
		l.dropped.Add(1)
		if l.remote == nil {
			return errNoRemote
		}
		return nil
	}
	h := *hdr
	h.PayloadType, h.SSRC = pt, l.ssrc
	l.seq++
	h.SequenceNumber = l.seq
	l.lastTS, l.lastOK = h.Timestamp, true
	h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0 // the SIP side negotiated none
	h.CSRC = nil
	n, err := h.MarshalTo(l.buf)
	if err != nil {
		return fmt.Errorf("sipleg: marshal: %w", err)
	}
	if n+len(payload) > len(l.buf) {
		l.dropped.Add(1)
		return nil
	}
	n += copy(l.buf[n:], payload)
	if _, err := l.conn.WriteToUDP(l.buf[:n], l.remote); err != nil {
		return fmt.Errorf("sipleg: send: %w", err)
	}
	l.sent.Add(1)
	return nil
}

// DTMF sends one RFC 4733 telephone-event of event (0-9, 10 '*', 11 '#', 12-15 A-D) with
// payload type pt: a packet every 20 ms for about 160 ms, the last three marked as the end. It
// blocks for that long; audio sent meanwhile keeps its own timestamps.
func (l *Leg) DTMF(event, pt uint8) error {
	const step = 160 // 20 ms at 8 kHz
	l.mu.Lock()
	ts := l.lastTS + step
	l.mu.Unlock()
	send := func(duration uint16, end, first bool) error {
		payload := []byte{event, 10, byte(duration >> 8), byte(duration)} // volume -10 dBm0
		if end {
			payload[1] |= 0x80
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.remote == nil {
			return errNoRemote
		}
		l.seq++
		h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: l.seq, Timestamp: ts, SSRC: l.ssrc, Marker: first}
		n, err := h.MarshalTo(l.buf)
		if err != nil {
			return fmt.Errorf("sipleg: marshal: %w", err)
		}
		n += copy(l.buf[n:], payload)
		if _, err := l.conn.WriteToUDP(l.buf[:n], l.remote); err != nil {
			return fmt.Errorf("sipleg: send: %w", err)
		}
		l.sent.Add(1)
		return nil
	}
	for i := 1; i <= 8; i++ {
		if err := send(uint16(i*step), i > 5, i == 1); err != nil {
			return err
		}
		if i < 6 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// DTMFEvent is the RFC 4733 event of a DTMF symbol (0-9, *, #, A-D), or false.
func DTMFEvent(symbol string) (uint8, bool) {
	const symbols = "0123456789*#ABCD"
	if len(symbol) != 1 {
		return 0, false
	}
	for i := 0; i < len(symbols); i++ {
		if symbols[i] == symbol[0] || symbol[0] >= 'a' && symbol[0] <= 'd' && symbols[i] == symbol[0]-32 {
			return uint8(i), true
		}
	}
	return 0, false
}

// Run reads the peer's packets into sink until the leg is closed. sink owns nothing after it
// returns: the packet is reused.
func (l *Leg) Run(sink func(*rtp.Packet)) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, from, err := l.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface as read errors on some systems
		}
		if pkt.Unmarshal(buf[:n]) != nil || pkt.Version != 2 {
			l.dropped.Add(1)
			continue
		}
		l.latch(from)
		l.received.Add(1)
		l.observe(&pkt, time.Now())
		if l.held.Load() {
			continue
		}
		sink(&pkt)
	}
}

// latch makes from the peer's address once its first packet has come from there.
func (l *Leg) latch(from *net.UDPAddr) {
	if l.latched.Load() {
		return
	}
	l.mu.Lock()
	l.remote = from
	l.mu.Unlock()
	l.latched.Store(true)
}

// Stats are the leg's packet counts.
type Stats struct {
	Sent, Received, Dropped uint64
}

func (l *Leg) Stats() Stats {
	return Stats{Sent: l.sent.Load(), Received: l.received.Load(), Dropped: l.dropped.Load()}
}

// Close closes the socket; Run returns.
func (l *Leg) Close() error { return l.conn.Close() }
