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
		dt := NewDownTrack(tr, "video", "stream", vp8)
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
	clock := newFakeClock()
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8,
		RequestKeyframe: func() { keyReqs.Add(1) }, Now: clock.now})
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
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}})
	if got := keyReqs.Load() - before; got != 0 {
		t.Fatalf("%d upstream requests within the dedup window of the join's request, want 0", got)
	}
	clock.advance(KeyframeMinInterval + time.Millisecond)
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}})
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.FullIntraRequest{MediaSSRC: 1000}})
	if got := keyReqs.Load() - before; got != 1 {
		t.Fatalf("%d upstream requests for PLI+FIR in a row, want 1", got)
	}
	s.dt.HandleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 1000, TotalLost: 7}}}})
	if st := s.dt.Stats(); st.PLIs != 3 || st.Lost != 7 {
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
	if err := tr.AddDown(NewDownTrack(tr, "x", "y", vp8)); err != ErrClosed {
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
		dt := NewDownTrack(tr, "audio", "s", webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000})
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
	clock := newFakeClock()
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8, Now: clock.now,
		OnFormat: func(w, h int) { reports.Add(1); last.Store(uint64(w)<<32 | uint64(h)) }})
	defer tr.Close()
	for i := range 200 {
		w := 320 + 16*(i%2)
		tr.Push(vp8Packet(uint16(i+1), uint32(i*100), true, w, 240, true))
	}
	if n := reports.Load(); n > formatBurst+1 {
		t.Fatalf("%d size reports for 200 alternating key frames, want at most %d", n, formatBurst+1)
	}
	tr.Push(vp8Packet(998, 99000, true, 640, 480, true))
	if got := last.Load(); got == 640<<32|480 {
		t.Fatal("a size change was reported with the budget spent")
	}
	clock.advance(time.Second / formatPerSecond) // one report's worth of budget
	tr.Push(vp8Packet(1000, 100000, true, 640, 480, true))
	if got := last.Load(); got != 640<<32|480 {
		t.Fatalf("settled size not reported: last %dx%d", got>>32, got&0xffffffff)
	}
}

// fakeClock is a track clock that moves only when a test says so.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.t.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// recorder is a Down that is not WebRTC (the shape of a recorder, relay or muxer): it keeps
// copies of what it is given.
type recorder struct {
	mu   sync.Mutex
	seqs []uint16
	data [][]byte
}

func (r *recorder) WriteRTP(h *rtp.Header, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, h.SequenceNumber)
	r.data = append(r.data, append([]byte(nil), payload...))
	return nil
}

func (r *recorder) got() []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint16(nil), r.seqs...)
}

// TestAnyDownIsFedLikeAPlayer: a non-WebRTC Down beside a WebRTC player gets the same packets
// from the same key frame on, and nothing after RemoveDown; a Down added twice is refused.
func TestAnyDownIsFedLikeAPlayer(t *testing.T) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8})
	defer tr.Close()
	player := subscribe(t, tr, 1, true)[0]
	rec := &recorder{}
	if err := tr.AddDown(rec); err != nil {
		t.Fatal(err)
	}
	if err := tr.AddDown(rec); err == nil {
		t.Fatal("the same Down was attached twice")
	}
	tr.Push(vp8Packet(1, 100, false, 0, 0, true))
	tr.Push(vp8Packet(2, 200, true, 320, 240, true))
	tr.Push(vp8Packet(3, 300, false, 0, 0, true))
	eventually(t, "2 packets at the recorder", func() bool { return len(rec.got()) == 2 })
	eventually(t, "2 packets at the player", func() bool { return player.sink.count.Load() == 2 })
	if got := rec.got(); got[0] != 2 || got[1] != 3 {
		t.Fatalf("recorder got %v, want [2 3]", got)
	}
	if tr.Subscribers() != 2 {
		t.Fatalf("%d subscribers", tr.Subscribers())
	}
	tr.RemoveDown(rec)
	tr.Push(vp8Packet(4, 400, false, 0, 0, true))
	eventually(t, "3 packets at the player", func() bool { return player.sink.count.Load() == 3 })
	if got := rec.got(); len(got) != 2 {
		t.Fatalf("recorder got %v after RemoveDown", got)
	}
}

// failingDown refuses every packet until ready is set.
type failingDown struct {
	ready    atomic.Bool
	seqs     []uint16 // owned by the writer
	n        atomic.Int32
	attempts atomic.Int32
}

func (f *failingDown) WriteRTP(h *rtp.Header, _ []byte) error {
	f.attempts.Add(1)
	if !f.ready.Load() {
		return errNotBound
	}
	f.seqs = append(f.seqs, h.SequenceNumber)
	f.n.Add(1)
	return nil
}

// TestKeyframeNotDeliveredKeepsWaiting: a key frame a Down could not take leaves it waiting, so
// its first packet is always a key frame.
func TestKeyframeNotDeliveredKeepsWaiting(t *testing.T) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8})
	defer tr.Close()
	f := &failingDown{}
	if err := tr.AddDown(f); err != nil {
		t.Fatal(err)
	}
	tr.Push(vp8Packet(1, 100, true, 320, 240, true))
	eventually(t, "the key frame offered", func() bool { return f.attempts.Load() == 1 })
	f.ready.Store(true)
	tr.Push(vp8Packet(2, 200, false, 0, 0, true))
	tr.Push(vp8Packet(3, 300, true, 320, 240, true))
	eventually(t, "the second key frame delivered", func() bool { return f.n.Load() == 1 })
	tr.RemoveDown(f) // the writer is done with f.seqs once this returns
	if len(f.seqs) != 1 || f.seqs[0] != 3 {
		t.Fatalf("down got %v, want [3]", f.seqs)
	}
}

// blockingDown's writes wait until release is closed.
type blockingDown struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingDown) WriteRTP(*rtp.Header, []byte) error {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return nil
}

// TestRemoveWaitsWithoutTheLock: removing a Down whose writer is stuck in a write waits for that
// writer, but the track stays usable meanwhile: another Down can join and the count is right.
func TestRemoveWaitsWithoutTheLock(t *testing.T) {
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeAudio, MimeType: webrtc.MimeTypeOpus})
	defer tr.Close()
	slow := &blockingDown{entered: make(chan struct{}), release: make(chan struct{})}
	if err := tr.AddDown(slow); err != nil {
		t.Fatal(err)
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1}, Payload: []byte{1}}
	b, _ := pkt.Marshal()
	tr.Push(b)
	<-slow.entered
	removed := make(chan struct{})
	go func() {
		tr.RemoveDown(slow)
		close(removed)
	}()
	testwait.Until(t, 5*time.Second, "the slow Down leaves the index", func() bool { return tr.Subscribers() == 0 })
	added := make(chan error, 1)
	go func() { added <- tr.AddDown(&recorder{}) }()
	select {
	case err := <-added:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("AddDown blocked behind a RemoveDown waiting for a stuck writer")
	}
	select {
	case <-removed:
		t.Fatal("RemoveDown returned while its writer was still inside the Down")
	default:
	}
	close(slow.release)
	<-removed
}
