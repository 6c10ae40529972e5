// Package forward is the media hot path (Galène style): one reader per published track stores each
// packet in a per-track cache and hands its sequence number to a bounded pool of writers (about
// √n goroutines for n subscribers), which write it to the track's Downs (down.go: where packets
// go; DownTrack, a WebRTC player, is one). WebRTC subscribers' NACKs are answered from the cache,
// their PLI/FIR are forwarded upstream deduplicated, and video subscribers start at a key frame.
// No heap allocation per packet on this path.
package forward

import (
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/internal/codec"
)

// Timing of keyframe requests to the publisher.
const (
	// KeyframeMinInterval deduplicates PLIs upstream: many subscribers joining or losing the
	// picture at once cost the publisher one key frame, not one each.
	KeyframeMinInterval = 400 * time.Millisecond
	// keyframeRetry re-asks while a subscriber still waits for its first key frame: a PLI can be
	// lost, and a subscriber whose join fell inside the dedup window got no request of its own.
	// Equal to the dedup interval, so a late joiner waits at most one window (bench: p50 time to
	// first key frame with 100 joining players fell from 870 ms at a 1 s retry).
	keyframeRetry = KeyframeMinInterval
)

// ErrClosed is returned when adding a subscriber to a track that has ended.
var ErrClosed = errors.New("forward: track closed")

// TrackConfig describes one published track.
type TrackConfig struct {
	Kind      webrtc.RTPCodecType
	MimeType  string // e.g. "video/VP8"
	CacheSize int    // packets kept for NACKs; 0 = 512 video, 64 audio
	QueueSize int    // per-writer queue; 0 = 256
	// RequestKeyframe sends a PLI to the publisher. Called already deduplicated, from the reader
	// or an RTCP goroutine: it must not block for long.
	RequestKeyframe func()
	// OnFormat is called from the reader when a key frame reveals a new picture size.
	OnFormat func(width, height int)
	Metrics  *Metrics // nil = unregistered counters
	// Now is the track's clock (keyframe-request deduplication, picture-size report budget);
	// nil = time.Now. Tests inject one to step time instead of sleeping.
	Now func() time.Time
}

// TrackStats are cumulative counters of what the track received. Bytes are RTP payload bytes, what
// the browser's bytesSent/bytesReceived count, so rates compare with the SDK's own (§C.18).
type TrackStats struct {
	Packets, Bytes, Frames, Lost, KeyframeRequests, Dropped int64
	Width, Height                                           int
}

// PacketSource is where a track's packets come from; *webrtc.TrackRemote is one.
type PacketSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// Track fans one published track out to its subscribers.
type Track struct {
	cfg     TrackConfig
	video   bool
	codec   string // "VP8", "H264", ... for the bitstream probes
	cache   *PacketCache
	metrics *Metrics
	km      *KindMetrics // metrics of the track's kind
	sample  uint32       // reader-owned: packets since the last latency sample
	hdr     rtp.Header   // reader-owned
	haveSeq bool
	lastSeq uint16
	readBuf [MaxPacketSize]byte
	writers atomic.Pointer[[]*writer] // reader's snapshot, copy-on-write under mu
	waiting atomic.Int32              // video subscribers still waiting for a key frame
	lastKey atomic.Int64              // unix nanos of the last keyframe request sent
	packets atomic.Int64
	bytes   atomic.Int64
	frames  atomic.Int64
	lost    atomic.Int64
	keyReqs atomic.Int64
	dropped atomic.Int64
	size    atomic.Uint64 // width<<32 | height
	// Reader-owned: the size last reported through OnFormat and its rate limit.
	reported     uint64
	formatBudget formatBudget
	now          func() time.Time
	mu           sync.Mutex
	all          []*writer
	subs         map[Down]*subscription
	closed       bool
	writerWG     sync.WaitGroup
}

// NewTrack creates a track; feed it with Run or Push.
func NewTrack(cfg TrackConfig) *Track {
	t := &Track{cfg: cfg, video: cfg.Kind == webrtc.RTPCodecTypeVideo, metrics: cfg.Metrics, now: cfg.Now,
		subs: map[Down]*subscription{}}
	if t.now == nil {
		t.now = time.Now
	}
	if _, n, ok := strings.Cut(cfg.MimeType, "/"); ok {
		t.codec = n
	}
	if t.metrics == nil {
		t.metrics, _ = NewMetrics(nil)
	}
	t.km = t.metrics.Kind(cfg.Kind)
	size := cfg.CacheSize
	if size == 0 {
		size = 64
		if t.video {
			size = 512
		}
	}
	if t.cfg.QueueSize == 0 {
		t.cfg.QueueSize = 256
	}
	t.cache = NewPacketCache(size)
	t.writers.Store(&[]*writer{})
	return t
}

// Kind is the track's media kind.
func (t *Track) Kind() webrtc.RTPCodecType { return t.cfg.Kind }

// MimeType is the track's codec.
func (t *Track) MimeType() string { return t.cfg.MimeType }

// Run reads src until it fails (the publisher's peer connection closed), then stops the writers.
func (t *Track) Run(src PacketSource) {
	defer t.Close()
	for {
		n, _, err := src.Read(t.readBuf[:])
		if err != nil {
			return
		}
		t.Push(t.readBuf[:n])
	}
}

// Push handles one received RTP packet: cache, statistics, key frame probe, fan-out. It must only
// be called from one goroutine (the reader). It does not allocate.
func (t *Track) Push(pkt []byte) {
	n, err := t.hdr.Unmarshal(pkt)
	if err != nil || len(pkt) > MaxPacketSize {
		t.km.DroppedMalformed.Inc()
		return
	}
	seq := t.hdr.SequenceNumber
	t.cache.Store(seq, pkt)
	t.packets.Add(1)
	t.bytes.Add(int64(len(pkt) - n))
	t.km.ReceivedPackets.Inc()
	t.km.ReceivedBytes.Add(float64(len(pkt)))
	t.countLoss(seq)
	key := false
	if t.video {
		if t.hdr.Marker {
			t.frames.Add(1)
		}
		key = t.probe(pkt[n:])
		if t.waiting.Load() > 0 && t.now().UnixNano()-t.lastKey.Load() > int64(keyframeRetry) {
			t.RequestKeyframe()
		}
	}
	msg := writerMsg{op: opPacket, seq: seq, key: key}
	if t.sample++; t.sample >= latencySampleEvery {
		t.sample = 0
		msg.at = time.Now().UnixNano()
	}
	for _, w := range *t.writers.Load() {
		select {
		case w.ch <- msg:
		default: // a slow writer loses this packet; its subscribers will NACK it from the cache
			t.dropped.Add(1)
			t.km.DroppedQueueFull.Inc()
		}
	}
}

// countLoss counts sequence gaps (RFC 3550 A.1 style, without the probation).
func (t *Track) countLoss(seq uint16) {
	if !t.haveSeq {
		t.haveSeq, t.lastSeq = true, seq
		return
	}
	d := seq - t.lastSeq
	if d == 0 || d >= 0x8000 { // duplicate, reordered or retransmitted packet
		return
	}
	if d > 1 {
		t.lost.Add(int64(d - 1))
		t.km.LostPackets.Add(float64(d - 1))
	}
	t.lastSeq = seq
}

// probe reports whether a video payload starts a key frame and records the picture size.
func (t *Track) probe(payload []byte) bool {
	var w, h int
	var key bool
	switch {
	case strings.EqualFold(t.codec, codec.VP8):
		w, h, key = codec.VP8Keyframe(payload)
	case strings.EqualFold(t.codec, codec.H264):
		var ok bool
		w, h, key, ok = codec.H264Keyframe(payload)
		key = key && ok
	}
	if w > 0 && h > 0 {
		packed := uint64(w)<<32 | uint64(h)
		t.size.Store(packed)
		if packed != t.reported && t.cfg.OnFormat != nil && t.formatBudget.take(t.now()) {
			t.reported = packed
			t.cfg.OnFormat(w, h)
		}
	}
	return key
}

// formatBudget rate-limits picture-size reports: each one is an event to every player, and a
// publisher alternating sizes on every key frame must not flood them. A throttled change is
// reported at a later key frame, once the budget refills. Owned by the reader goroutine.
type formatBudget struct {
	tokens float64
	last   time.Time
}

const (
	formatBurst     = 4 // size changes reported at once
	formatPerSecond = 2
)

func (b *formatBudget) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = formatBurst
	} else {
		b.tokens = min(formatBurst, b.tokens+now.Sub(b.last).Seconds()*formatPerSecond)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// RequestKeyframe asks the publisher for a key frame unless one was asked for within
// KeyframeMinInterval.
func (t *Track) RequestKeyframe() { t.requestKeyframe(KeyframeMinInterval) }

// RelayKeyframeMinInterval is the deduplication window of a relay's key-frame requests: the
// relaying daemon has deduplicated its players' already, and waiting out the origin's own window
// on top (a request of the relay's setup just before) delayed its first players' first picture
// by 400 ms.
const RelayKeyframeMinInterval = 100 * time.Millisecond

// RequestRelayKeyframe asks for a key frame for a relay to another daemon, unless one was asked
// for within RelayKeyframeMinInterval.
func (t *Track) RequestRelayKeyframe() { t.requestKeyframe(RelayKeyframeMinInterval) }

func (t *Track) requestKeyframe(window time.Duration) {
	now := t.now().UnixNano()
	last := t.lastKey.Load()
	if now-last < int64(window) || !t.lastKey.CompareAndSwap(last, now) {
		return
	}
	t.keyReqs.Add(1)
	t.metrics.KeyframeRequests.Inc()
	if t.cfg.RequestKeyframe != nil {
		t.cfg.RequestKeyframe()
	}
}

// Size is the last picture size read from a key frame (0, 0 before the first).
func (t *Track) Size() (width, height int) {
	s := t.size.Load()
	return int(s >> 32), int(s & math.MaxUint32)
}

// Stats returns the cumulative counters.
func (t *Track) Stats() TrackStats {
	w, h := t.Size()
	return TrackStats{
		Packets: t.packets.Load(), Bytes: t.bytes.Load(), Frames: t.frames.Load(), Lost: t.lost.Load(),
		KeyframeRequests: t.keyReqs.Load(), Dropped: t.dropped.Load(), Width: w, Height: h,
	}
}

// Subscribers is the number of Downs attached.
func (t *Track) Subscribers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

// AddDown attaches a Down. Video Downs receive nothing until the next key frame, which is
// requested now (docs/protocol.md §E.3: "request a keyframe from the publisher").
func (t *Track) AddDown(d Down) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.subs[d] != nil {
		return errors.New("forward: down already attached")
	}
	s := &subscription{down: d, requested: requestedAt(d)}
	t.subs[d] = s
	w := t.pickWriter()
	w.subs++
	s.writer = w
	if t.video {
		s.waitKey.Store(true)
		t.waiting.Add(1)
	}
	w.ch <- writerMsg{op: opAdd, sub: s}
	if t.video {
		t.RequestKeyframe()
	}
	return nil
}

// RemoveDown detaches a Down; when it returns, no writer touches d any more. The writers'
// acknowledgements are awaited without the track's lock, so a writer busy with a slow Down delays
// only this call, never AddDown, Close or another RemoveDown.
func (t *Track) RemoveDown(d Down) {
	t.mu.Lock()
	s := t.subs[d]
	if t.closed {
		t.mu.Unlock()
		t.writerWG.Wait() // Close has told every writer to stop; none is left once they have
		return
	}
	if s == nil {
		t.mu.Unlock()
		return
	}
	delete(t.subs, d)
	w := s.writer
	removed := make(chan struct{})
	w.ch <- writerMsg{op: opRemove, sub: s, ack: removed}
	w.subs--
	var stopped chan struct{}
	if w.subs == 0 && len(t.all) > writersFor(len(t.subs)) {
		stopped = t.stopWriter(w)
	}
	t.mu.Unlock()
	<-removed
	if s.waitKey.CompareAndSwap(true, false) {
		t.waiting.Add(-1)
	}
	if stopped != nil {
		<-stopped
	}
}

// writersFor is the pool size for n subscribers: ⌈√n⌉ (Galène), at least one.
func writersFor(n int) int {
	k := int(math.Ceil(math.Sqrt(float64(n))))
	return max(k, 1)
}

// pickWriter returns the least loaded writer, starting a new one while the pool is below ⌈√n⌉
// (n counting the Down being added). Called with mu held.
func (t *Track) pickWriter() *writer {
	if len(t.all) < writersFor(len(t.subs)) {
		w := newWriter(t)
		t.all = append(t.all, w)
		t.publishWriters()
		t.writerWG.Add(1)
		go func() {
			defer t.writerWG.Done()
			w.run()
		}()
		return w
	}
	best := t.all[0]
	for _, w := range t.all[1:] {
		if w.subs < best.subs {
			best = w
		}
	}
	return best
}

// stopWriter takes w out of the pool and tells it to stop; the returned channel closes when it
// has. Called with mu held.
func (t *Track) stopWriter(w *writer) chan struct{} {
	for i, x := range t.all {
		if x == w {
			t.all = append(t.all[:i:i], t.all[i+1:]...)
			break
		}
	}
	t.publishWriters()
	// Never close w.ch: the reader may still hold the old snapshot. A stop message ends the
	// goroutine; late packets land in the abandoned buffer and are collected with it.
	done := make(chan struct{})
	w.ch <- writerMsg{op: opStop, ack: done}
	return done
}

func (t *Track) publishWriters() {
	snap := append([]*writer(nil), t.all...)
	t.writers.Store(&snap)
}

// Close stops every writer and detaches every Down. Safe to call more than once.
func (t *Track) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	var stops []chan struct{}
	for len(t.all) > 0 {
		stops = append(stops, t.stopWriter(t.all[0]))
	}
	t.subs = map[Down]*subscription{}
	t.mu.Unlock()
	for _, done := range stops {
		<-done
	}
	t.writerWG.Wait()
}
