package rtc

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// countedUDP is the shared ICE UDP socket as the mux sees it: the same allocation-free reads and
// writes (ice.AddrPortReaderWriter), with failed ones reported to onError (write = true for a
// send). Closing the socket and the mux's own write deadlines (its shutdown) are not failures.
type countedUDP struct {
	*net.UDPConn
	onError func(write bool)
}

func (c *countedUDP) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, addr, err := c.UDPConn.ReadFromUDPAddrPort(b)
	c.check(err, false)
	return n, addr, err
}

func (c *countedUDP) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.UDPConn.WriteToUDPAddrPort(b, addr)
	c.check(err, true)
	return n, err
}

func (c *countedUDP) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(b)
	c.check(err, false)
	return n, addr, err
}

func (c *countedUDP) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.UDPConn.WriteTo(b, addr)
	c.check(err, true)
	return n, err
}

func (c *countedUDP) check(err error, write bool) {
	if err != nil && c.onError != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.onError(write)
	}
}
