package sipleg

import (
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// peerPorts binds a SIP peer's RTP socket and, on the next port, its RTCP socket.
func peerPorts(t *testing.T) (rtpConn, rtcpConn *net.UDPConn) {
	t.Helper()
	for range 50 {
		r, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.LocalAddr().(*net.UDPAddr).Port + 1})
		if err == nil {
			t.Cleanup(func() { _ = r.Close(); _ = c.Close() })
			return r, c
		}
		_ = r.Close()
	}
	t.Fatal("no pair of free ports")
	return nil, nil
}

// The leg counts what the peer's stream lost and its jitter, and reports both to the peer's RTCP
// port in a receiver report.
func TestReceptionAndReceiverReport(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	leg := NewLeg(conn, 0x1234)
	leg.SetClock(0, 8000)
	done := make(chan struct{})
	go func() { defer close(done); leg.Run(func(*rtp.Packet) {}) }()
	defer func() { _ = leg.Close(); <-done }()
	if leg.ReceiverReport() != nil {
		t.Error("a report before any packet")
	}

	peer, peerRTCP := peerPorts(t)
	to := conn.LocalAddr().(*net.UDPAddr)
	sent := 0
	for i := range 100 {
		seq := uint16(65500 + i) // across the wrap
		if i%10 == 3 {
			continue // ten lost
		}
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(160 * i),
			SSRC: 0xabcd}, Payload: make([]byte, 160)}).Marshal()
		if _, err := peer.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
		sent++
		time.Sleep(time.Millisecond) // 1 ms apart for 20 ms of audio each: jitter builds up
	}
	deadline := time.Now().Add(5 * time.Second)
	for leg.Stats().Received < uint64(sent) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	rec := leg.Reception()
	if rec.Lost != 10 || rec.Jitter < 5*time.Millisecond {
		t.Errorf("reception %+v, want 10 lost and a jitter of several ms", rec)
	}
	if err := leg.SendReport(); err != nil {
		t.Fatal(err)
	}
	_ = peerRTCP.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 1500)
	n, err := peerRTCP.Read(buf)
	if err != nil {
		t.Fatalf("no RTCP at the peer's RTCP port: %v", err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	if err != nil || len(pkts) != 1 {
		t.Fatalf("RTCP %v: %v", pkts, err)
	}
	rr, ok := pkts[0].(*rtcp.ReceiverReport)
	if !ok || rr.SSRC != 0x1234 || len(rr.Reports) != 1 {
		t.Fatalf("got %+v, want a receiver report from the leg's SSRC", pkts[0])
	}
	r := rr.Reports[0]
	if r.SSRC != 0xabcd || r.TotalLost != 10 || r.FractionLost != 25 || r.LastSequenceNumber != 1<<16|63 || r.Jitter == 0 {
		t.Errorf("reception report %+v: want the peer's SSRC, 10 lost (fraction 25/256), the extended sequence past the wrap (65500+99: cycle 1, 63), a jitter", r)
	}
	if next := leg.ReceiverReport(); next.Reports[0].FractionLost != 0 || next.Reports[0].TotalLost != 10 {
		t.Errorf("the next report %+v: nothing lost since, 10 in all", next.Reports[0])
	}
}
