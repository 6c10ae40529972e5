package forward

import (
	"runtime"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// benchmarkFanout measures the packet path: Push of one 1200-byte VP8 packet and its delivery to
// n subscribers through the writer pool, SSRC/payload type rewritten per subscriber. The sink
// only counts, so the figure is the forwarder's own cost (pion's SRTP is not included). The
// reader waits when the slowest subscriber falls ~128 packets behind, so no queue overflows.
func benchmarkFanout(b *testing.B, n int) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8, CacheSize: 1024})
	defer tr.Close()
	subs := subscribe(b, tr, n, false)
	pkt := vp8Packet(0, 0, true, 320, 240, true)
	pkt = append(pkt, make([]byte, 1200-len(pkt))...)
	// minDelivered is what the slowest subscriber has received.
	minDelivered := func() int64 {
		m := subs[0].sink.count.Load()
		for _, s := range subs[1:] {
			m = min(m, s.sink.count.Load())
		}
		return m
	}
	// Spin rather than poll: a 10 ms poll would dominate the figure. A dropped packet can never
	// be delivered, so it ends the run at once; the deadline only bounds a stall.
	waitFor := func(want int64) {
		deadline := time.Now().Add(20 * time.Second)
		for minDelivered() < want {
			if tr.Stats().Dropped > 0 || time.Now().After(deadline) {
				b.Fatalf("stalled: dropped %d, slowest subscriber at %d of %d", tr.Stats().Dropped, minDelivered(), want)
			}
			runtime.Gosched()
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq := uint16(i)
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		tr.Push(pkt)
		if i%64 == 63 {
			waitFor(int64(i - 128))
		}
	}
	waitFor(int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*int64(n)), "ns/delivered")
}

func BenchmarkFanout10(b *testing.B)  { benchmarkFanout(b, 10) }
func BenchmarkFanout100(b *testing.B) { benchmarkFanout(b, 100) }
