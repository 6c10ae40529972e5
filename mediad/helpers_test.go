package mediad

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/internal/codec"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/testkit/testpeer"
	"github.com/potok-media/potok/testkit/testwait"
)

const signalNode = "signal-test"

// env is one embedded NATS, one daemon and a signal stand-in that records the daemon's events.
type env struct {
	t      *testing.T
	emb    *bus.Embedded
	nc     *nats.Conn // the signal's connection
	d      *Daemon
	reg    *prometheus.Registry
	events *eventLog
	base   int // goroutines before the daemon started
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	emb, err := bus.StartEmbedded(bus.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	dnc, err := emb.Connect("mediad")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dnc.Close)
	snc, err := emb.Connect("signal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(snc.Close)
	e := &env{t: t, emb: emb, nc: snc.Conn, reg: prometheus.NewRegistry(), events: &eventLog{}}
	sub, err := snc.Subscribe(control.SignalEventsSubject(signalNode), e.events.add)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	_ = snc.Flush()
	cfg := Config{NodeID: "mediad-test", LoopbackOnly: true, TCPPort: -1, ICETimeout: 10 * time.Second, Registerer: e.reg}
	if mod != nil {
		mod(&cfg)
	}
	// The directory buckets and each connection's request-reply subscription belong to NATS, not
	// to the daemon: create them before counting goroutines.
	for _, nc := range []*nats.Conn{snc.Conn, dnc.Conn} {
		if _, err := bus.OpenDirectory(context.Background(), nc, bus.DirectoryConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	e.base = settledGoroutines(t)
	d, err := Start(context.Background(), cfg, dnc, logging.Test())
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	t.Cleanup(func() { _ = d.Close() })
	return e
}

// settledGoroutines is the goroutine count once it has stopped changing (the same over five
// samples 20 ms apart): what NATS starts for the connections above must be counted in the base,
// however long it takes to start on a slow machine.
func settledGoroutines(t *testing.T) int {
	t.Helper()
	last, same := runtime.NumGoroutine(), 0
	testwait.Until(t, 10*time.Second, "the goroutine count to settle", func() bool {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		return same >= 5
	})
	return last
}

// fastHeartbeat makes the daemon sweep for orphaned sessions every 50 ms.
func fastHeartbeat(c *Config) { c.Heartbeat = 50 * time.Millisecond }

// waitSweeps waits until the daemon has completed n more heartbeat rounds than now; a round that
// was under way when called may count as the first, so callers that need one whole round ask for 2.
func (e *env) waitSweeps(n int64) {
	e.t.Helper()
	want := e.d.sweeps.Load() + n
	testwait.Until(e.t, 10*time.Second, "heartbeat sweeps", func() bool { return e.d.sweeps.Load() >= want })
}

// closeAndCheckLeaks closes the daemon and waits for the goroutine count to return to where it was.
func (e *env) closeAndCheckLeaks(clients ...*webrtc.PeerConnection) {
	e.t.Helper()
	for _, c := range clients {
		_ = c.Close()
	}
	if err := e.d.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	if n := e.d.PeerConnections(); n != 0 {
		e.t.Fatalf("%d peer connections after Close", n)
	}
	testwait.Goroutines(e.t, e.base, 0, 10*time.Second)
}

func (e *env) request(op string, in, out any) {
	e.t.Helper()
	if err := bus.Request(context.Background(), e.nc, control.MediaSubject(e.d.NodeID(), op), in, out); err != nil {
		e.t.Fatalf("%s: %v", op, err)
	}
}

func owner(id string) control.Owner {
	return control.Owner{SignalNode: signalNode, SessionID: "ws-1", MediaSessionID: id}
}

// eventLog records MediaEvents in arrival order.
type eventLog struct {
	mu  sync.Mutex
	evs []control.MediaEvent
	at  []time.Time // arrival of evs[i]
}

func (l *eventLog) add(m *nats.Msg) {
	var ev control.MediaEvent
	if json.Unmarshal(m.Data, &ev) == nil {
		l.mu.Lock()
		l.evs = append(l.evs, ev)
		l.at = append(l.at, time.Now())
		l.mu.Unlock()
	}
}

// arrivals returns when the events matching f arrived, oldest first.
func (l *eventLog) arrivals(f func(control.MediaEvent) bool) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for i, ev := range l.evs {
		if f(ev) {
			out = append(out, l.at[i])
		}
	}
	return out
}

// checkRateCadence waits for n rate events of media session id arriving after since and checks
// that they came about once a second on average (the mean spacing, so one late tick on a loaded
// machine does not fail it).
func (e *env) checkRateCadence(id string, since time.Time, n int) {
	e.t.Helper()
	var got []time.Time
	testwait.UntilOK(e.t, 20*time.Second, fmt.Sprintf("%d rate events of %s", n, id), func() error {
		got = got[:0]
		for _, at := range e.events.arrivals(func(ev control.MediaEvent) bool {
			return ev.MediaSessionID == id && ev.Kind == control.EventRate
		}) {
			if at.After(since) {
				got = append(got, at)
			}
		}
		if len(got) < n {
			return fmt.Errorf("%d so far", len(got))
		}
		return nil
	})
	if mean := got[len(got)-1].Sub(got[0]) / time.Duration(len(got)-1); mean < 400*time.Millisecond || mean > 3*time.Second {
		e.t.Fatalf("rate events of %s %v apart on average, want about one a second", id, mean)
	}
}

func (l *eventLog) match(f func(control.MediaEvent) bool) []control.MediaEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []control.MediaEvent
	for _, ev := range l.evs {
		if f(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// wait returns the first event of a media session matching kind (and state, when set).
func (e *env) wait(id, kind, state string) control.MediaEvent {
	e.t.Helper()
	var got control.MediaEvent
	eventually(e.t, kind+" "+state+" event for "+id, func() bool {
		evs := e.events.match(func(ev control.MediaEvent) bool {
			return ev.MediaSessionID == id && ev.Kind == kind && (state == "" || ev.State == state)
		})
		if len(evs) > 0 {
			got = evs[0]
		}
		return len(evs) > 0
	})
	return got
}

func eventually(t testing.TB, what string, cond func() bool) {
	testwait.Until(t, 15*time.Second, what, cond)
}

// clientAPI is a browser stand-in on loopback (docs/protocol.md §P.1). Replay protection is off so a
// retransmission of a packet the client already has can be observed.
func clientAPI(t testing.TB) *webrtc.API {
	return testpeer.API(t, testpeer.Options{NoReplayProtection: true})
}

// publisher is a Go stand-in for a browser publishing synthetic video: 30 frames/s, one packet per
// frame, a key frame every second and on PLI (VP8 320x240, or H.264 STAP-A SPS 1280x720 + IDR),
// plus Opus packets every 20 ms when audio is on.
type publisher struct {
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	audio  *webrtc.TrackLocalStaticRTP
	mime   string
	offer  string
	wantKF atomic.Bool
	plis   atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newPublisher(t *testing.T) *publisher {
	return newPublisherWith(t, clientAPI(t), webrtc.MimeTypeVP8, false)
}

func newPublisherWith(t *testing.T, api *webrtc.API, mime string, audio bool) *publisher {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, mime: mime, stop: make(chan struct{})}
	if audio {
		if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub"); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.AddTransceiverFromTrack(p.audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	if p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, "video", "pub"); err != nil {
		t.Fatal(err)
	}
	tr, err := pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	p.wg.Add(1)
	go func() { // read RTCP: PLI asks for a key frame
		defer p.wg.Done()
		for {
			pkts, _, err := tr.Sender().ReadRTCP()
			if err != nil {
				return
			}
			for _, pk := range pkts {
				if _, ok := pk.(*rtcp.PictureLossIndication); ok {
					p.plis.Add(1)
					p.wantKF.Store(true)
				}
			}
		}
	}()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	p.offer = offer.SDP
	return p
}

func (p *publisher) answer(t *testing.T, sdp string) {
	t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
}

func (p *publisher) send() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		seq, ts := uint16(1000), uint32(0)
		aseq := uint16(0)
		for frame := 0; ; frame++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			key := frame%30 == 0 || p.wantKF.Swap(false)
			seq++
			ts += 3000
			payload := vp8Frame(key)
			if p.mime == webrtc.MimeTypeH264 {
				payload = h264Frame(key)
			}
			_ = p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true},
				Payload: payload})
			if p.audio != nil {
				for i := 0; i < 2; i++ {
					aseq++
					_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq,
						Timestamp: uint32(aseq) * 960}, Payload: make([]byte, 80)})
				}
			}
		}
	}()
}

func (p *publisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	_ = p.pc.Close()
	p.wg.Wait()
}

// vp8Frame is a one-packet VP8 frame: payload descriptor S=1, then a key frame header of
// 320x240 (RFC 6386 §9.1) or an inter frame tag.
func vp8Frame(key bool) []byte {
	b := make([]byte, 1000)
	b[0] = 0x10
	if key {
		copy(b[1:], []byte{0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	} else {
		b[1] = 0x51
	}
	return b
}

// sps720p is a libx264 High profile SPS for 1280x720 (see internal/codec tests).
var sps720p = []byte{0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03,
	0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60}

// h264Frame is a STAP-A with SPS, PPS and an IDR slice for key frames (as Chrome sends them), or
// a single non-IDR slice NAL unit.
func h264Frame(key bool) []byte {
	if !key {
		b := make([]byte, 800)
		b[0] = 0x41
		return b
	}
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	idr := make([]byte, 900)
	idr[0] = 0x65
	b := []byte{0x78}
	for _, n := range [][]byte{sps720p, pps, idr} {
		b = append(b, byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

// player is a Go stand-in for a browser playing: recvonly audio and video like the WebSDK.
type player struct {
	pc        *webrtc.PeerConnection
	offer     string
	audioPkts atomic.Int64
	streams   sync.Map // track kind → stream id
	packets   atomic.Int64
	keyW      atomic.Int64
	keyH      atomic.Int64
	mu        sync.Mutex
	seqs      map[uint16]int // how often each sequence number arrived
	lastSeq   atomic.Uint32
	ssrc      atomic.Uint32
	tracks    chan *webrtc.TrackRemote
	streamID  atomic.Value
	wg        sync.WaitGroup
}

func newPlayer(t *testing.T) *player {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &player{pc: pc, seqs: map[uint16]int{}, tracks: make(chan *webrtc.TrackRemote, 2)}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		p.streams.Store(tr.Kind().String(), tr.StreamID())
		p.wg.Add(1)
		defer p.wg.Done()
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				p.audioPkts.Add(1)
			}
		}
		p.streamID.Store(tr.StreamID())
		p.ssrc.Store(uint32(tr.SSRC()))
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			p.packets.Add(1)
			p.lastSeq.Store(uint32(pkt.SequenceNumber))
			p.mu.Lock()
			p.seqs[pkt.SequenceNumber]++
			p.mu.Unlock()
			if w, h, ok := codec.Dimensions(tr.Codec().MimeType, pkt.Payload); ok {
				p.keyW.Store(int64(w))
				p.keyH.Store(int64(h))
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	p.offer = offer.SDP
	return p
}

func (p *player) seen(seq uint16) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seqs[seq]
}

func (p *player) close() {
	_ = p.pc.Close()
	p.wg.Wait()
}

// counter reads one counter from the registry.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				if m.Counter != nil {
					sum += m.Counter.GetValue()
				}
				if m.Gauge != nil {
					sum += m.Gauge.GetValue()
				}
			}
			return sum
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func busDirectory(e *env) (*bus.Directory, error) {
	return bus.OpenDirectory(context.Background(), e.nc, bus.DirectoryConfig{})
}
