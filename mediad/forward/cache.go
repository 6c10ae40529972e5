package forward

import "sync"

// MaxPacketSize is the largest RTP packet kept. pion's receive MTU is 1460; anything larger is
// truncated by pion before it reaches us.
const MaxPacketSize = 1500

// PacketCache keeps the last packets of one track to answer subscribers' NACKs (Galène's
// packetcache): a fixed ring of preallocated buffers indexed by sequence number, so storing and
// fetching never allocate.
type PacketCache struct {
	mu    sync.Mutex
	mask  uint16
	slots []cacheSlot
}

type cacheSlot struct {
	seq   uint16
	n     uint16 // 0 = empty
	bytes [MaxPacketSize]byte
}

// NewPacketCache returns a cache of size slots, rounded up to a power of two (at most 32768, half
// the sequence space, so a slot never holds a packet that could be confused with a newer one).
func NewPacketCache(size int) *PacketCache {
	n := 1
	for n < size && n < 1<<15 {
		n <<= 1
	}
	return &PacketCache{mask: uint16(n - 1), slots: make([]cacheSlot, n)}
}

// Store copies one RTP packet into the slot of its sequence number.
func (c *PacketCache) Store(seq uint16, pkt []byte) {
	if len(pkt) == 0 || len(pkt) > MaxPacketSize {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq&c.mask]
	s.seq, s.n = seq, uint16(len(pkt))
	copy(s.bytes[:], pkt)
	c.mu.Unlock()
}

// Get copies the packet with sequence number seq into buf and returns its length, or 0 when the
// packet is no longer (or was never) cached or buf is too small.
func (c *PacketCache) Get(seq uint16, buf []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if s.n == 0 || s.seq != seq || int(s.n) > len(buf) {
		return 0
	}
	return copy(buf, s.bytes[:s.n])
}
