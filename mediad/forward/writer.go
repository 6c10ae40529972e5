package forward

import "github.com/pion/rtp"

// Writer queue operations. Control messages share the packet queue so that a writer's set of
// down-tracks changes only between packets, without locks on the packet path.
const (
	opPacket = iota
	opAdd
	opRemove
	opStop
)

type writerMsg struct {
	op  uint8
	key bool
	seq uint16
	dt  *DownTrack
	ack chan struct{}
}

// writer is one goroutine of a track's pool: it copies each packet out of the cache once and
// writes it to its share of the subscribers.
type writer struct {
	t     *Track
	ch    chan writerMsg
	subs  int // guarded by t.mu
	downs []*DownTrack
	hdr   rtp.Header
	buf   [MaxPacketSize]byte
}

func newWriter(t *Track) *writer {
	return &writer{t: t, ch: make(chan writerMsg, t.cfg.QueueSize)}
}

func (w *writer) run() {
	for m := range w.ch {
		switch m.op {
		case opPacket:
			w.packet(m.seq, m.key)
		case opAdd:
			w.downs = append(w.downs, m.dt)
		case opRemove:
			for i, d := range w.downs {
				if d == m.dt {
					w.downs = append(w.downs[:i], w.downs[i+1:]...)
					break
				}
			}
			close(m.ack)
		case opStop:
			w.downs = nil
			close(m.ack)
			return
		}
	}
}

func (w *writer) packet(seq uint16, key bool) {
	if len(w.downs) == 0 {
		return
	}
	n := w.t.cache.Get(seq, w.buf[:])
	if n == 0 { // overwritten while queued: the subscribers will NACK what they miss
		return
	}
	hlen, err := w.hdr.Unmarshal(w.buf[:n])
	if err != nil {
		return
	}
	payload := w.buf[hlen:n]
	sent := 0
	for _, d := range w.downs {
		if d.forward(&w.hdr, payload, key) {
			sent++
		}
	}
	if sent > 0 {
		w.t.metrics.ForwardedPackets.Add(float64(sent))
		w.t.metrics.ForwardedBytes.Add(float64(sent * n))
	}
}
