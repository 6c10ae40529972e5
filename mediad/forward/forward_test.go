package forward

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/testkit/testwait"
)

var vp8 = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}

// sink records what a down-track writes (a stand-in for pion's SRTP write stream).
type sink struct {
	mu    sync.Mutex
	pkts  []rtp.Packet
	count atomic.Int64
	keep  bool
	block chan struct{} // when set, WriteRTP waits on it
}

func (s *sink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if s.block != nil {
		<-s.block
	}
	if s.keep {
		p := rtp.Packet{Header: *h, Payload: append([]byte(nil), payload...)}
		p.Header.CSRC = append([]uint32(nil), h.CSRC...)
		s.mu.Lock()
		s.pkts = append(s.pkts, p)
		s.mu.Unlock()
	}
	s.count.Add(1)
	return len(payload), nil
}

func (s *sink) Write(b []byte) (int, error) { return len(b), nil }

func (s *sink) packets() []rtp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtp.Packet(nil), s.pkts...)
}

// bindCtx is the webrtc.TrackLocalContext pion would pass to Bind.
type bindCtx struct {
	id   string
	ssrc webrtc.SSRC
	pt   webrtc.PayloadType
	w    webrtc.TrackLocalWriter
}

func (c bindCtx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000}, PayloadType: 111},
		{RTPCodecCapability: vp8, PayloadType: c.pt},
	}
}
func (c bindCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c bindCtx) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c bindCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c bindCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c bindCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c bindCtx) ID() string                                             { return c.id }
func (c bindCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

// vp8Packet builds a VP8 RTP packet; key packets carry a key frame header of w×h.
func vp8Packet(seq uint16, ts uint32, key bool, w, h int, marker bool) []byte {
	payload := []byte{0x10, 0x31, 0x5a, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0, 1, 2, 3, 4}
	if key {
		payload[1] = 0xb0
		payload[7], payload[8] = byte(w), byte(w>>8)
		payload[9], payload[10] = byte(h), byte(h>>8)
	} else {
		payload[0] = 0x00 // continuation packet
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
		SSRC: 0xabc, Marker: marker}, Payload: payload}
	_ = p.Header.SetExtension(3, []byte{1, 2, 3})
	b, _ := p.Marshal()
	return b
}

type subscriber struct {
	dt   *DownTrack
	sink *sink
}

func subscribe(t testing.TB, tr *Track, n int, keep bool) []subscriber {
	t.Helper()
	var subs []subscriber
	for i := 0; i < n; i++ {
		s := &sink{keep: keep}
		dt := NewDownTrack("video", "stream", webrtc.RTPCodecTypeVideo, vp8)
		if _, err := dt.Bind(bindCtx{id: "b", ssrc: webrtc.SSRC(1000 + i), pt: webrtc.PayloadType(100 + i), w: s}); err != nil {
			t.Fatal(err)
		}
		if err := tr.AddDown(dt); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, subscriber{dt, s})
	}
	return subs
}

func eventually(t testing.TB, what string, cond func() bool) {
	testwait.Until(t, 5*time.Second, what, cond)
}

func TestPacketCache(t *testing.T) {
	c := NewPacketCache(100) // rounds to 128
	if len(c.slots) != 128 {
		t.Fatalf("%d slots", len(c.slots))
	}
	buf := make([]byte, MaxPacketSize)
	c.Store(10, []byte{1, 2, 3})
	if n := c.Get(10, buf); n != 3 || buf[2] != 3 {
		t.Fatalf("get 10: %d", n)
	}
	if c.Get(11, buf) != 0 {
		t.Fatal("got a packet never stored")
	}
	c.Store(10+128, []byte{9})
	if c.Get(10, buf) != 0 || c.Get(138, buf) != 1 {
		t.Fatal("overwritten slot still answers the old sequence number")
	}
	if c.Get(138, buf[:0]) != 0 {
		t.Fatal("copied into a too small buffer")
	}
	c.Store(5, make([]byte, MaxPacketSize+1))
	if c.Get(5, buf) != 0 {
		t.Fatal("stored an oversized packet")
	}
	if n := testing.AllocsPerRun(100, func() { c.Store(7, buf[:1200]); c.Get(7, buf) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func TestFanoutStartsAtKeyframeAndRewrites(t *testing.T) {
	var keyReqs atomic.Int32
	var formats [][2]int
	var fmu sync.Mutex
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8,
		RequestKeyframe: func() { keyReqs.Add(1) },
		OnFormat: func(w, h int) {
			fmu.Lock()
			formats = append(formats, [2]int{w, h})
			fmu.Unlock()
		}})
	defer tr.Close()
	subs := subscribe(t, tr, 3, true)
	if keyReqs.Load() != 1 {
		t.Fatalf("%d keyframe requests for 3 joins at once, want 1 (deduplicated)", keyReqs.Load())
	}
	tr.Push(vp8Packet(1, 100, false, 0, 0, true)) // inter frame: nobody may get it
	tr.Push(vp8Packet(2, 200, true, 320, 240, false))
	tr.Push(vp8Packet(3, 200, false, 0, 0, true))
	tr.Push(vp8Packet(5, 300, false, 0, 0, true)) // 4 lost
	for i, s := range subs {
		eventually(t, "3 packets", func() bool { return s.sink.count.Load() == 3 })
		pk := s.sink.packets()
		if pk[0].SequenceNumber != 2 || pk[1].SequenceNumber != 3 || pk[2].SequenceNumber != 5 {
			t.Fatalf("sub %d got seqs %d %d %d", i, pk[0].SequenceNumber, pk[1].SequenceNumber, pk[2].SequenceNumber)
		}
		for _, p := range pk {
			if p.SSRC != uint32(1000+i) || p.PayloadType != uint8(100+i) || p.Extension || p.Timestamp == 0 {
				t.Fatalf("sub %d header not rewritten: %+v", i, p.Header)
			}
		}
		if st := s.dt.Stats(); st.Packets != 3 || st.Frames != 2 {
			t.Fatalf("sub %d stats %+v", i, st)
		}
	}
	st := tr.Stats()
	if st.Packets != 4 || st.Frames != 3 || st.Lost != 1 || st.Width != 320 || st.Height != 240 {
		t.Fatalf("track stats %+v", st)
	}
	tr.Push(vp8Packet(6, 400, true, 640, 480, true))
	tr.Push(vp8Packet(7, 500, true, 640, 480, true))
	fmu.Lock()
	defer fmu.Unlock()
	if len(formats) != 2 || formats[0] != [2]int{320, 240} || formats[1] != [2]int{640, 480} {
		t.Fatalf("format callbacks %v", formats)
	}
}

func TestNACKAnsweredFromCacheAndPLIForwarded(t *testing.T) {
	var keyReqs atomic.Int32
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8,
		RequestKeyframe: func() { keyReqs.Add(1) }})
	defer tr.Close()
	s := subscribe(t, tr, 1, true)[0]
	for seq := uint16(10); seq < 20; seq++ {
		tr.Push(vp8Packet(seq, uint32(seq), seq == 10, 320, 240, true))
	}
	eventually(t, "10 packets", func() bool { return s.sink.count.Load() == 10 })
	// NACK 12 and, through the bitmask, 14; 2000 was never cached.
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 1000,
		Nacks: []rtcp.NackPair{{PacketID: 12, LostPackets: 0b10}, {PacketID: 2000}}}})
	pk := s.sink.packets()
	if len(pk) != 12 || pk[10].SequenceNumber != 12 || pk[11].SequenceNumber != 14 || pk[11].SSRC != 1000 {
		t.Fatalf("retransmissions: %d packets, last %+v", len(pk), pk[len(pk)-1].Header)
	}
	st := s.dt.Stats()
	if st.NACKs != 1 || st.Retransmits != 2 || st.NACKMisses != 1 {
		t.Fatalf("stats %+v", st)
	}
	before := keyReqs.Load()
	time.Sleep(KeyframeMinInterval + 50*time.Millisecond)
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}})
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.FullIntraRequest{MediaSSRC: 1000}})
	if got := keyReqs.Load() - before; got != 1 {
		t.Fatalf("%d upstream requests for PLI+FIR in a row, want 1", got)
	}
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 1000, TotalLost: 7}}}})
	if st := s.dt.Stats(); st.PLIs != 2 || st.Lost != 7 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWriterPoolSizeAndRemoval(t *testing.T) {
	base := runtime.NumGoroutine()
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8})
	subs := subscribe(t, tr, 10, false)
	tr.mu.Lock()
	nw := len(tr.all)
	tr.mu.Unlock()
	if nw != 4 {
		t.Fatalf("%d writers for 10 subscribers, want ⌈√10⌉ = 4", nw)
	}
	for _, s := range subs[:9] {
		tr.RemoveDown(s.dt)
	}
	tr.mu.Lock()
	nw = len(tr.all)
	tr.mu.Unlock()
	if nw != 1 || tr.Subscribers() != 1 {
		t.Fatalf("%d writers, %d subscribers after removals", nw, tr.Subscribers())
	}
	tr.Push(vp8Packet(1, 1, true, 320, 240, true))
	eventually(t, "delivery to the remaining subscriber", func() bool { return subs[9].sink.count.Load() == 1 })
	for _, s := range subs[:9] {
		if s.sink.count.Load() != 0 {
			t.Fatal("a removed subscriber received a packet")
		}
	}
	tr.Close()
	if err := tr.AddDown(NewDownTrack("x", "y", webrtc.RTPCodecTypeVideo, vp8)); err != ErrClosed {
		t.Fatalf("AddDown after Close: %v", err)
	}
	eventually(t, "writer goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

// TestSlowSubscriberDoesNotBlock: one subscriber's writes hang; the reader keeps going and the
// subscriber on the other writer still gets every packet.
func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeAudio, MimeType: webrtc.MimeTypeOpus, QueueSize: 16})
	block := make(chan struct{})
	slow := &sink{block: block}
	fast := &sink{}
	for i, s := range []*sink{slow, fast} {
		dt := NewDownTrack("audio", "s", webrtc.RTPCodecTypeAudio, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000})
		if _, err := dt.Bind(bindCtx{id: "b", ssrc: webrtc.SSRC(i + 1), w: s}); err != nil {
			t.Fatal(err)
		}
		if err := tr.AddDown(dt); err != nil {
			t.Fatal(err)
		}
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: make([]byte, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			pkt.SequenceNumber = uint16(i)
			b, _ := pkt.Marshal()
			tr.Push(b)
			if i%8 == 7 { // pace so the fast writer keeps up with its 16-slot queue
				for fast.count.Load() < int64(i+1) {
					runtime.Gosched()
				}
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reader blocked behind a slow subscriber")
	}
	eventually(t, "fast subscriber", func() bool { return fast.count.Load() == 200 })
	if tr.Stats().Dropped == 0 {
		t.Fatal("slow writer's queue never overflowed")
	}
	close(block)
	tr.Close()
}

func TestPushDoesNotAllocate(t *testing.T) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8})
	defer tr.Close()
	subs := subscribe(t, tr, 10, false)
	pkt := vp8Packet(0, 0, true, 320, 240, true)
	seq := uint16(0)
	n := testing.AllocsPerRun(500, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		tr.Push(pkt)
		for subs[9].sink.count.Load() < int64(seq)-100 {
			runtime.Gosched()
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per packet fanned out to 10 subscribers", n)
	}
}

// A publisher alternating picture sizes on every key frame gets a bounded number of size reports,
// and the size it settles on is still reported once the budget refills.
func TestFormatReportsAreRateLimited(t *testing.T) {
	var reports atomic.Int32
	var last atomic.Uint64
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8,
		OnFormat: func(w, h int) { reports.Add(1); last.Store(uint64(w)<<32 | uint64(h)) }})
	defer tr.Close()
	for i := range 200 {
		w := 320 + 16*(i%2)
		tr.Push(vp8Packet(uint16(i+1), uint32(i*100), true, w, 240, true))
	}
	if n := reports.Load(); n > formatBurst+1 {
		t.Fatalf("%d size reports for 200 alternating key frames, want at most %d", n, formatBurst+1)
	}
	time.Sleep(time.Second) // the budget refills
	tr.Push(vp8Packet(1000, 100000, true, 640, 480, true))
	if got := last.Load(); got != 640<<32|480 {
		t.Fatalf("settled size not reported: last %dx%d", got>>32, got&0xffffffff)
	}
}
