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
	at  int64 // arrival (unix nanos) of a packet sampled for the latency histogram, else 0
	sub *subscription
	ack chan struct{}
}

// writer is one goroutine of a track's pool: it copies each packet out of the cache once and
// writes it to its share of the track's Downs.
type writer struct {
	t     *Track
	ch    chan writerMsg
	subs  int             // guarded by t.mu
	downs []*subscription // owned by run
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
			if m.at != 0 && len(w.downs) > 0 {
				observeSince(w.t.metrics.Latency, m.at)
			}
		case opAdd:
			w.downs = append(w.downs, m.sub)
		case opRemove:
			for i, d := range w.downs {
				if d == m.sub {
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
		w.t.km.DroppedOverwritten.Inc()
		return
	}
	hlen, err := w.hdr.Unmarshal(w.buf[:n])
	if err != nil {
		return
	}
	payload := w.buf[hlen:n]
	sent := 0
	for _, s := range w.downs {
		waiting := s.waitKey.Load()
		if waiting && !key {
			continue
		}
		if err := s.down.WriteRTP(&w.hdr, payload); err != nil {
			if err != errNotBound {
				w.t.km.DroppedWriteFailed.Inc()
			}
			continue // a key packet that was not sent leaves the Down waiting for the next one
		}
		sent++
		if !s.started {
			s.started = true
			if s.requested != 0 {
				observeSince(w.t.km.FirstPacket, s.requested)
			}
		}
		if waiting && s.waitKey.CompareAndSwap(true, false) {
			w.t.waiting.Add(-1)
			if s.requested != 0 {
				observeSince(w.t.metrics.FirstKeyframe, s.requested)
			}
		}
	}
	if sent > 0 {
		w.t.km.SentPackets.Add(float64(sent))
		w.t.km.SentBytes.Add(float64(sent * n))
	}
}
