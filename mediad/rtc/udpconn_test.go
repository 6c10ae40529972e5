package rtc

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/pion/ice/v4"
)

// The mux takes its allocation-free path with the wrapper, as with a bare *net.UDPConn.
var _ ice.AddrPortReaderWriter = (*countedUDP)(nil)

// TestCountedUDP: a refused send is reported as a write error, a packet that goes and comes is
// not, and neither is a read of a socket closed at shutdown.
func TestCountedUDP(t *testing.T) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var reads, writes atomic.Int32
	c := &countedUDP{UDPConn: a, onError: func(write bool) {
		if write {
			writes.Add(1)
		} else {
			reads.Add(1)
		}
	}}
	self := a.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := c.WriteToAddrPort([]byte("x"), self); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, from, err := c.ReadFromAddrPort(buf); err != nil || n != 1 || from != self {
		t.Fatalf("read %d from %v: %v", n, from, err)
	}
	// Larger than a UDP datagram can be: the kernel refuses the send (EMSGSIZE).
	huge := make([]byte, 70_000)
	if _, err := c.WriteToAddrPort(huge, self); err == nil {
		t.Fatal("a 70 000-byte datagram was sent")
	}
	if _, err := c.WriteTo(huge, a.LocalAddr()); err == nil {
		t.Fatal("a 70 000-byte datagram was sent")
	}
	_ = a.Close()
	if _, _, err := c.ReadFromAddrPort(buf); err == nil {
		t.Fatal("read of a closed socket succeeded")
	}
	if w, r := writes.Load(), reads.Load(); w != 2 || r != 0 {
		t.Errorf("%d write and %d read errors reported, want 2 and 0", w, r)
	}
}
