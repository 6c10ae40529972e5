package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// Options configure a fanout run. Zero FPS, Width, Height, Concurrency and Name get defaults.
type Options struct {
	URL         string        // signalling WebSocket, ws://host:8080
	MetricsURL  string        // server /metrics; empty = no CPU figure
	Subscribers int           // players
	Bitrate     int           // publisher video bit/s
	Duration    time.Duration // measured run, from PUBLISHING
	FPS         int
	Width       int
	Height      int
	Name        string
	Concurrency int // players connecting at once
}

// Timeouts of the setup steps; generous because a loaded 2-core machine is slow.
const (
	setupTimeout = 20 * time.Second
	drainTime    = 500 * time.Millisecond
	// settleTime separates PLAYING from the start of a player's measured window: the server
	// asks for a key frame when a player joins (docs/protocol.md §E.3), and packets of that burst
	// still in flight at the snapshot would count as delivered but not as expected.
	settleTime = 500 * time.Millisecond
)

func (o *Options) defaults() {
	if o.FPS == 0 {
		o.FPS = 30
	}
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = 640, 480
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Name == "" {
		o.Name = randomName()
	}
}

// Run publishes one synthetic stream, plays it with o.Subscribers sessions for o.Duration and
// reports delivery. It prints a progress line per second to progress (may be nil).
func Run(ctx context.Context, o Options, progress io.Writer) (Report, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return Report{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	rep := Report{Name: o.Name, Subscribers: o.Subscribers, Bitrate: o.Bitrate, FPS: o.FPS, Width: o.Width, Height: o.Height}
	cpuBefore, cpuErr := 0.0, errors.New("no --metrics-url given")
	if o.MetricsURL != "" {
		cpuBefore, cpuErr = scrapeCPU(ctx, o.MetricsURL)
	}
	pub, err := startPublisher(ctx, o)
	if err != nil {
		return rep, err
	}
	defer pub.close()
	started := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	players := make([]*player, o.Subscribers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Concurrency)
	for i := range players {
		p := &player{}
		players[i] = p
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				p.fail(errors.New("run ended before this player connected"))
				return
			}
			defer func() { <-sem }()
			p.start(runCtx, o, pub)
		})
	}
	steady := watch(runCtx, started, progress, players, pub, o)
	wg.Wait()
	pub.stopMedia()
	time.Sleep(drainTime) // packets in flight reach the players before counting
	rep.DurationSec = time.Since(started).Seconds()
	fillDelivery(&rep, pub, players)
	// An interrupted run still reports: scrape with a context that Ctrl-C does not cancel.
	fillCPU(&rep, context.WithoutCancel(ctx), o.MetricsURL, cpuBefore, cpuErr, steady)
	fillTimes(&rep, pub, players)
	closePlayers(players, o.Concurrency)
	return rep, nil
}

// publisher is the bench's one publishing session; its sources stop on demand so the count of
// sent packets is final before players are counted.
type publisher struct {
	sess    *wasmclient.Session
	st      *wasmclient.Stream
	stopped atomic.Bool
}

func startPublisher(ctx context.Context, o Options) (*publisher, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: o.Width, Height: o.Height, FPS: o.FPS, Bitrate: o.Bitrate})
	if err != nil {
		return nil, err
	}
	pub := &publisher{}
	sess, err := wasmclient.Connect(ctx, o.URL, wasmclient.SessionOptions{})
	if err != nil {
		return nil, fmt.Errorf("bench: publisher: %w", err)
	}
	pub.sess = sess
	st, err := sess.Publish(ctx, wasmclient.PublishOptions{
		Name:  o.Name,
		Video: &gated{Source: video, stopped: &pub.stopped},
		Audio: &gated{Source: media.NewSilentOpus(0), stopped: &pub.stopped},
	})
	if err != nil {
		pub.close()
		return nil, fmt.Errorf("bench: publish %s: %w", o.Name, err)
	}
	pub.st = st
	if _, err := st.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		pub.close()
		return nil, fmt.Errorf("bench: publish %s: %w", o.Name, err)
	}
	return pub, nil
}

func (p *publisher) sent() uint64 { return p.st.SendStats().Video.Packets }

func (p *publisher) stopMedia() { p.stopped.Store(true) }

func (p *publisher) close() {
	if p.st != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.st.Stop(ctx)
		cancel()
	}
	_ = p.sess.Close()
}

// gated ends a source (io.EOF) once stopped is set, keeping keyframe requests working.
type gated struct {
	media.Source
	stopped *atomic.Bool
}

func (g *gated) Next() (media.Frame, error) {
	if g.stopped.Load() {
		return media.Frame{}, io.EOF
	}
	return g.Source.Next()
}

func (g *gated) RequestKeyframe() {
	if k, ok := g.Source.(media.KeyframeRequester); ok {
		k.RequestKeyframe()
	}
}

// player is one playing session and its measurement window: counts taken settleTime after
// PLAYING are subtracted from the final ones, so expected and delivered cover the same interval.
type player struct {
	mu        sync.Mutex
	sess      *wasmclient.Session
	st        *wasmclient.Stream
	playing   bool // reached PLAYING
	measured  bool // window started
	startSent uint64
	startRecv uint64
	err       error
}

func (p *player) start(ctx context.Context, o Options, pub *publisher) {
	sess, err := wasmclient.Connect(ctx, o.URL, wasmclient.SessionOptions{})
	if err != nil {
		p.fail(err)
		return
	}
	p.mu.Lock()
	p.sess = sess
	p.mu.Unlock()
	st, err := sess.Play(ctx, wasmclient.PlayOptions{Name: o.Name})
	if err != nil {
		p.fail(err)
		return
	}
	p.mu.Lock()
	p.st = st
	p.mu.Unlock()
	if _, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		p.fail(err)
		return
	}
	p.mu.Lock()
	p.playing = true
	p.mu.Unlock()
	select {
	case <-ctx.Done():
		return
	case <-time.After(settleTime):
	}
	p.mu.Lock()
	p.measured = true
	p.startSent, p.startRecv = pub.sent(), st.ReceiveStats().VideoPackets
	p.mu.Unlock()
}

func (p *player) fail(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
}

// window returns packets expected and delivered in the player's window; playing tells whether it
// reached PLAYING at all (its window may not have started yet).
func (p *player) window(sent uint64) (expected, delivered uint64, playing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.measured {
		return 0, 0, p.playing
	}
	recv := p.st.ReceiveStats().VideoPackets
	return sent - p.startSent, recv - p.startRecv, true
}

// watch prints a progress line every second until ctx ends.
// steadyMark is taken at the first progress tick where every player is playing: the CPU spent from
// then on is forwarding alone, without the WebSocket, ICE and DTLS set-up of joining players.
type steadyMark struct {
	ok        bool
	at        time.Time
	cpu       float64
	delivered uint64
}

func watch(ctx context.Context, started time.Time, w io.Writer, players []*player, pub *publisher, o Options) steadyMark {
	var mark steadyMark
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return mark
		case <-t.C:
		}
		sent := pub.sent()
		var expected, delivered uint64
		playing := 0
		for _, p := range players {
			if e, d, ok := p.window(sent); ok {
				playing++
				expected += e
				delivered += d
			}
		}
		fmt.Fprintf(w, "%5.0fs  playing %d/%d  delivered %d  ratio %.3f\n",
			time.Since(started).Seconds(), playing, o.Subscribers, delivered, ratio(delivered, expected))
		if !mark.ok && playing == o.Subscribers && o.MetricsURL != "" {
			if cpu, err := scrapeCPU(ctx, o.MetricsURL); err == nil {
				mark = steadyMark{ok: true, at: time.Now(), cpu: cpu, delivered: delivered}
			}
		}
	}
}

func fillDelivery(rep *Report, pub *publisher, players []*player) {
	sent := pub.sent()
	rep.PublisherSentVideoPackets = sent
	rep.PublisherKeyframeRequests = pub.st.SendStats().Video.KeyframeRequests
	for _, p := range players {
		e, d, ok := p.window(sent)
		if ok {
			rep.Playing++
			rep.ExpectedVideoPackets += e
			rep.DeliveredVideoPackets += d
			continue
		}
		rep.Failed++
		p.mu.Lock()
		if p.err != nil && len(rep.Errors) < maxErrors {
			rep.Errors = append(rep.Errors, p.err.Error())
		}
		p.mu.Unlock()
	}
	rep.DeliveryRatio = ratio(rep.DeliveredVideoPackets, rep.ExpectedVideoPackets)
}

func fillCPU(rep *Report, ctx context.Context, metricsURL string, before float64, beforeErr error, steady steadyMark) {
	if beforeErr != nil {
		rep.ServerCPUUnavailable = beforeErr.Error()
		return
	}
	after, err := scrapeCPU(ctx, metricsURL)
	if err != nil {
		rep.ServerCPUUnavailable = err.Error()
		return
	}
	cpu := after - before
	rep.ServerCPUSeconds = &cpu
	if rep.DeliveredVideoPackets > 0 {
		per := cpu * 1e6 / float64(rep.DeliveredVideoPackets)
		rep.ServerCPUMicrosPerPacket = &per
	}
	if steady.ok && rep.DeliveredVideoPackets > steady.delivered {
		per := (after - steady.cpu) * 1e6 / float64(rep.DeliveredVideoPackets-steady.delivered)
		rep.SteadyCPUMicrosPerPacket = &per
		rep.SteadySeconds = time.Since(steady.at).Seconds()
	}
}

func fillTimes(rep *Report, pub *publisher, players []*player) {
	since := func(start, t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return ms(t.Sub(start))
	}
	start := pub.sess.Timeline().ConnectStart
	tl := pub.st.Timeline()
	rep.PublisherConnectToAnswer = since(start, tl.RemoteSDP)
	rep.PublisherConnectToPeerConnected = since(start, tl.Connected)
	rep.PublisherConnectToPublish = since(start, tl.Active)
	rep.PublisherConnectToFirst = since(start, tl.FirstPacket)
	var answer, connected, active, first, key []time.Duration
	add := func(ds *[]time.Duration, start, t time.Time) {
		if !t.IsZero() {
			*ds = append(*ds, t.Sub(start))
		}
	}
	for _, p := range players {
		p.mu.Lock()
		if p.st != nil {
			start, tl := p.sess.Timeline().ConnectStart, p.st.Timeline()
			add(&answer, start, tl.RemoteSDP)
			add(&connected, start, tl.Connected)
			add(&active, start, tl.Active)
			add(&first, start, tl.FirstPacket)
			add(&key, start, p.st.ReceiveStats().FirstKeyframe)
		}
		p.mu.Unlock()
	}
	rep.PlayerConnectToAnswer, rep.PlayerConnectToPeerConnected = summarize(answer), summarize(connected)
	rep.PlayerConnectToPlaying = summarize(active)
	rep.PlayerConnectToFirst, rep.PlayerConnectToKeyframe = summarize(first), summarize(key)
}

// closePlayers ends every player session, a bounded number at a time.
func closePlayers(players []*player, concurrency int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for _, p := range players {
		p.mu.Lock()
		sess := p.sess
		p.mu.Unlock()
		if sess == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = sess.Close()
		})
	}
	wg.Wait()
}
