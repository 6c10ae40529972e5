package mediad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/mediad/rtc"
)

// relay is an edge's copy of a stream published on another daemon, its origin: one peer
// connection to the origin, whose tracks feed a local stream that this daemon's players of it
// attach to exactly as to a publisher's (the relay is one more Down of the origin's tracks, the
// edge's players are Downs of its own). One relay per stream per edge, started by the first
// player and stopped after the last; relays start only at an origin, so a chain never loops.
type relay struct {
	d      *Daemon
	name   string
	origin string
	log    zerolog.Logger
	st     *stream

	ready chan struct{} // closed once set up; err says whether it worked
	err   error

	pc            *webrtc.PeerConnection
	pcState       *peerState // pc in potok_mediad_peer_connections{state}
	originStarted int64
	ctx           context.Context // cancelled by end
	cancel        context.CancelFunc
	wg            sync.WaitGroup // the track readers
	mu            sync.Mutex     // guards closing against a late OnTrack adding to wg
	closing       bool
	ended         atomic.Bool
	info          string // why it ended (what its players are told); written before cancel
	told          bool   // the origin ended it (no relayStop to send); written before cancel
	started       time.Time
}

// errRelayClosed: the daemon is closing.
var errRelayClosed = errors.New("mediad: closing")

// relayFor returns the live relay of name from origin, starting it when there is none, and waits
// until it is set up (or ctx ends).
func (d *Daemon) relayFor(ctx context.Context, name, origin string) (*relay, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errRelayClosed
	}
	r := d.relays[name]
	var stale *relay
	if r != nil && (r.origin != origin || r.ended.Load()) {
		stale, r = r, nil // the stream was published again elsewhere
	}
	if r == nil {
		r = d.newRelay(name, origin)
		d.relays[name] = r
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			r.run()
		}()
	}
	d.mu.Unlock()
	if stale != nil {
		stale.end(wcs.InfoStoppedByPublisherStop, false)
	}
	select {
	case <-r.ready:
		return r, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("mediad: relay of %s from %s: %w", name, origin, ctx.Err())
	}
}

func (d *Daemon) newRelay(name, origin string) *relay {
	r := &relay{d: d, name: name, origin: origin, ready: make(chan struct{}), started: time.Now(),
		log: d.log.With().Str("streamName", name).Str("origin", origin).Str("role", "edge").Logger()}
	r.st = newStream(name, nil)
	r.st.relay = r
	r.ctx, r.cancel = context.WithCancel(d.ctx)
	return r
}

// relayOf is the live relay of name, or nil.
func (d *Daemon) relayOf(name string) *relay {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.relays[name]
}

// run sets the relay up, then holds it until it ends and tears it down.
func (r *relay) run() {
	r.err = r.setup()
	close(r.ready)
	if r.err != nil {
		r.log.Info().Err(r.err).Msg("relay not set up")
		r.end(wcs.InfoFailedByError, true)
	} else {
		r.d.met.relays.Inc()
		r.log.Info().Dur("setup", time.Since(r.started)).Msg("relay set up")
	}
	<-r.ctx.Done()
	r.teardown()
}

// setup makes the peer connection, asks the origin for the stream and builds the local tracks
// from the codecs it answers with.
func (r *relay) setup() error {
	pc, err := r.d.tr.NewPeerConnection(rtc.PeerOptions{Codecs: rtc.PublishCodecs()})
	if err != nil {
		return err
	}
	r.pc = pc
	r.d.pcs.Add(1)
	r.pcState = r.d.met.newPeerState()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("relay transceiver: %w", err)
		}
	}
	pc.OnTrack(r.onTrack)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		r.pcState.set(s)
		switch s {
		case webrtc.PeerConnectionStateFailed: // the origin stopped answering
			r.end(wcs.InfoMediaNodeLost, false)
		case webrtc.PeerConnectionStateClosed: // the origin closed it
			r.endSoon()
		}
	})
	ctx, cancel := context.WithTimeout(r.ctx, control.RequestTimeout)
	defer cancel()
	offer, err := rtc.MakeOffer(ctx, pc)
	if err != nil {
		return err
	}
	var reply control.RelayReply
	req := control.RelayRequest{Edge: r.d.cfg.NodeID, EdgeStarted: r.d.started.UnixMilli(), StreamName: r.name, Offer: offer}
	if err := bus.Request(ctx, r.d.nc, control.MediaSubject(r.origin, control.OpRelay), req, &reply); err != nil {
		return err
	}
	if reply.Error != "" {
		return fmt.Errorf("origin refused the relay: %s", reply.Error)
	}
	r.originStarted = reply.OriginStarted
	r.buildTracks(reply)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: reply.Answer}); err != nil {
		return fmt.Errorf("relay answer: %w", err)
	}
	return nil
}

// buildTracks makes the local stream's tracks, one per kind the origin relays, with the stream's
// own codecs: the edge's players get exactly what the publisher sends.
func (r *relay) buildTracks(reply control.RelayReply) {
	defer close(r.st.ready)
	st := r.st
	for _, c := range reply.Codecs {
		kind := relayKind(c.Kind)
		params := webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(c.PayloadType),
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.MimeType, ClockRate: c.ClockRate,
				Channels: c.Channels, SDPFmtpLine: c.SDPFmtpLine}}
		st.addTrack(kind, params, r.d.met.forward, pliOn(r.pc), nil) // the origin asks its publisher
	}
	st.audioMuted, st.videoMuted = reply.AudioMuted, reply.VideoMuted
}

// onTrack feeds a relayed track into its local track until the origin stops sending.
func (r *relay) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	<-r.st.ready
	t := r.st.source(remote)
	if t == nil {
		r.log.Warn().Str("kind", remote.Kind().String()).Msg("unexpected relayed track ignored")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t.Run(remote)
		r.endSoon()
	}()
}

// toldGrace is how long an edge whose relay stopped flowing waits for the origin's RelayEvent,
// which says why (the publisher stopped, or the origin itself is closing): it is sent before the
// origin closes the peer connection but travels another way.
const toldGrace = time.Second

// endSoon ends the relay after toldGrace unless the origin's word ends it first; the origin's
// publisher stopping is the likely reason.
func (r *relay) endSoon() {
	time.AfterFunc(toldGrace, func() { r.end(wcs.InfoStoppedByPublisherStop, false) })
}

// end stops the relay once, with the info its players get; told means the origin ended it.
func (r *relay) end(info string, told bool) {
	if !r.ended.CompareAndSwap(false, true) {
		return
	}
	r.info, r.told = info, told
	r.cancel()
}

// release stops the relay when its last player has gone.
func (r *relay) release() {
	if r.st.endIfIdle() {
		r.log.Info().Msg("relay idle: stopping it")
		r.end("", false)
	}
}

// teardown ends the edge's players of the stream, closes the peer connection and, unless the
// origin ended the relay itself, tells the origin.
func (r *relay) teardown() {
	d := r.d
	d.mu.Lock()
	if d.relays[r.name] == r {
		delete(d.relays, r.name)
	}
	d.mu.Unlock()
	info := r.info
	if info == "" {
		info = wcs.InfoStoppedByPublisherStop
	}
	for _, p := range r.st.end() {
		d.end(p, control.StateClosed, info, true)
	}
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	if r.pc != nil {
		_ = r.pc.Close()
		d.pcs.Add(-1)
		r.pcState.remove()
	}
	r.wg.Wait()
	r.st.close()
	if r.err == nil {
		d.met.relays.Dec()
	}
	if !r.told && r.err == nil && !d.nc.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req := control.RelayStopRequest{Edge: d.cfg.NodeID, EdgeStarted: d.started.UnixMilli(), StreamName: r.name}
		if err := bus.Request(ctx, d.nc, control.MediaSubject(r.origin, control.OpRelayStop), req, &control.StopReply{}); err != nil {
			r.log.Debug().Err(err).Msg("relay stop not delivered; the origin drops it with the peer connection")
		}
	}
	r.log.Info().Str("info", r.info).Msg("relay ended")
}

// playRelayed serves a player of a stream published on req.Origin from this daemon's relay of it.
// A relay that ends while the player is being set up is started again, once.
func (d *Daemon) playRelayed(req control.PlayRequest) any {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.ctx, control.RequestTimeout)
		r, err := d.relayFor(ctx, req.StreamName, req.Origin)
		cancel()
		if err != nil {
			d.log.Info().Err(err).Str("streamName", req.StreamName).Str("origin", req.Origin).Msg("play: no relay")
			if errors.Is(err, errRelayClosed) {
				return control.PlayReply{Error: wcs.InfoFailedByError}
			}
			return control.PlayReply{Error: wcs.InfoStreamNotFound}
		}
		s, answered, msg := d.servePlayer(req.Owner, r.st, req.Offer, req.Transport == "TCP", false)
		if msg == wcs.InfoStreamNotFound && attempt == 0 {
			continue // the relay ended between relayFor and the player's start
		}
		if msg != "" {
			r.release()
			return control.PlayReply{Error: msg}
		}
		reply := playReply(r.st, answered)
		s.log.Info().Str("origin", req.Origin).Str("videoCodec", reply.VideoCodec).Msg("play answered from a relay")
		return reply
	}
}

// onRelayEvent applies what an origin says about a stream this daemon relays.
func (d *Daemon) onRelayEvent(m *nats.Msg) {
	var ev control.RelayEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		return
	}
	r := d.relayOf(ev.StreamName)
	if r == nil {
		return
	}
	if ev.Closed {
		info := ev.Info
		if !wcs.KnownInfo(info) || info == "" {
			info = wcs.InfoStoppedByPublisherStop
		}
		r.end(info, true)
		return
	}
	if se := ev.StreamEvent; se != nil {
		r.st.applyEvent(se.Type)
		for _, p := range r.st.playerList() {
			d.emit(p, control.MediaEvent{Kind: control.EventStreamEvent, StreamEvent: se})
		}
	}
}

// checkRelays ends the relays whose origin stopped heartbeating (NodeDownAfter, as signal nodes
// judge media daemons) or restarted: their players get "Media server lost", as the origin's own
// players do. Called by the heartbeat loop while the directory is usable.
func (d *Daemon) checkRelays(ctx context.Context) {
	d.mu.Lock()
	relays := make([]*relay, 0, len(d.relays))
	for _, r := range d.relays {
		relays = append(relays, r)
	}
	d.mu.Unlock()
	for _, r := range relays {
		select {
		case <-r.ready:
		default:
			continue // still being set up
		}
		e, err := d.dir.Nodes.Get(ctx, control.NodeKey(r.origin))
		var rec control.NodeRecord
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			continue // the directory cannot say: judge nothing
		case json.Unmarshal(e.Value(), &rec) == nil && rec.Started == r.originStarted &&
			time.Since(e.Created()) <= control.NodeDownAfter:
			continue // alive, same life
		}
		r.log.Warn().Msg("origin gone: ending the relay")
		r.end(wcs.InfoMediaNodeLost, true)
	}
}

// handleRoutes lists the relays this daemon holds as an edge (the REST API's /cdn/show_routes).
func (d *Daemon) handleRoutes(*nats.Msg) any {
	d.mu.Lock()
	relays := make([]*relay, 0, len(d.relays))
	for _, r := range d.relays {
		relays = append(relays, r)
	}
	d.mu.Unlock()
	out := control.RoutesReply{Relays: []control.Route{}}
	for _, r := range relays {
		out.Relays = append(out.Relays, control.Route{Stream: r.name, Origin: r.origin, Edge: d.cfg.NodeID,
			Players: len(r.st.playerList())})
	}
	return out
}
