package mediad

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/forward"
	"github.com/potok-media/potok/mediad/rtc"
)

// session is one media session: a publisher or a player, one peer connection. A publisher owns
// its stream (st); a player belongs to the stream it plays (st) and owns its down-tracks.
type session struct {
	d         *Daemon
	id        string // the client's mediaSessionId (logs, msid)
	key       string // owner.Key(): how the daemon indexes it
	owner     control.Owner
	publisher bool
	relay     bool     // the origin's side of a relay to another daemon: a player whose owner is that daemon
	call      *callLeg // a SIP call's media (call.go): a publisher whose stream is not indexed
	st        *stream
	log       zerolog.Logger
	pc        *webrtc.PeerConnection
	pcState   *peerState // pc in potok_mediad_peer_connections{state}

	ctx     context.Context // cancelled when the session ends
	cancel  context.CancelFunc
	wg      sync.WaitGroup // readers and RTCP loops of this session
	states  chan webrtc.PeerConnectionState
	iceUp   atomic.Bool // ICE reached connected (tells DTLS failures from ICE failures)
	ended   atomic.Bool // end ran (once)
	mu      sync.Mutex  // guards closing against late pion callbacks adding to wg
	closing bool
	rtcp    rtc.RTCPCounters

	downs []*forward.DownTrack // player: one per kind it plays, fixed once answered

	// Owned by the run goroutine.
	connected bool
	last      rateSample
}

type rateSample struct {
	at            time.Time
	bytes, frames int64
}

// newSession creates a publisher session (st nil: it gets a new stream named name) or a player
// session of st.
func (d *Daemon) newSession(owner control.Owner, name string, st *stream) *session {
	s := &session{d: d, id: owner.MediaSessionID, key: owner.Key(), owner: owner, publisher: st == nil, st: st,
		states: make(chan webrtc.PeerConnectionState, 16)}
	if s.publisher {
		s.st = newStream(name, s)
	}
	s.log = d.log.With().Str("mediaSessionId", s.id).Str("sessionId", owner.SessionID).
		Str("signalNode", owner.SignalNode).Str("streamName", name).Str("role", s.role()).Logger()
	s.ctx, s.cancel = context.WithCancel(d.ctx)
	return s
}

func (s *session) role() string {
	switch {
	case s.call != nil:
		return "call"
	case s.publisher:
		return "publish"
	case s.relay:
		return "relay"
	}
	return "play"
}

// newPeer creates the session's peer connection and wires its state callbacks. pion keeps a
// single handler per event (docs/protocol.md §P.3), so these are the only ones.
func (s *session) newPeer(opts rtc.PeerOptions) error {
	opts.Counters = &s.rtcp
	pc, err := s.d.tr.NewPeerConnection(opts)
	if err != nil {
		return err
	}
	s.pc = pc
	s.d.pcs.Add(1)
	s.pcState = s.d.met.newPeerState()
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		if st == webrtc.ICEConnectionStateConnected {
			s.iceUp.Store(true)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.pcState.set(st)
		select {
		case s.states <- st:
		default: // run is behind; the state it needs (connected/failed) is already queued
		}
	})
	return nil
}

// start registers the session and starts its run loop. It fails when the daemon is closing, the
// media session id or the stream name is taken (checked again here: two requests may race), or
// the stream a player asked for has ended meanwhile.
func (s *session) start() string {
	d := s.d
	if msg := d.index(s); msg != "" {
		return msg
	}
	if !s.publisher {
		if !s.st.addPlayer(s) {
			d.unindex(s)
			d.wg.Done()
			return wcs.InfoStreamNotFound
		}
		if s.ended.Load() { // the daemon closed between index and addPlayer
			s.st.removePlayer(s)
		}
	}
	d.met.mediaSessions.WithLabelValues(s.role()).Inc()
	d.met.sessionsStarted.WithLabelValues(s.role()).Inc()
	go func() {
		defer d.wg.Done()
		s.run()
	}()
	return ""
}

// peerClosedGrace is how long a media session whose peer closed the connection waits for the
// stop its client may have sent just before (see onState).
const peerClosedGrace = time.Second

// run owns the session's timers: ICE timeout, the 1 s rate events, connection state changes.
// When the session ends it tears the peer connection down.
func (s *session) run() {
	timeout := time.NewTimer(s.d.cfg.ICETimeout)
	defer timeout.Stop()
	var armed <-chan struct{} // a call's ICE timeout starts once both legs are negotiated
	if s.call != nil {
		timeout.Stop()
		armed = s.call.armed
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			s.teardown()
			return
		case st := <-s.states:
			s.onState(st)
		case <-armed:
			armed = nil
			timeout.Reset(s.d.cfg.ICETimeout)
		case <-timeout.C:
			if !s.connected {
				// ICE up but no connection by now: the DTLS handshake is what failed.
				info, cause := wcs.InfoICETimeout, causeICETimeout
				if s.iceUp.Load() {
					info, cause = wcs.InfoDTLSError, causeDTLS
				}
				s.log.Info().Dur("timeout", s.d.cfg.ICETimeout).Str("info", info).Msg("media session not connected in time")
				s.d.met.iceFailures.WithLabelValues(cause).Inc()
				s.d.end(s, control.StateFailed, info, true)
			}
		case <-tick.C:
			if s.connected {
				s.d.emit(s, control.MediaEvent{Kind: control.EventRate, Rate: s.rate()})
			}
		}
	}
}

func (s *session) onState(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		if s.connected {
			return
		}
		s.connected = true
		s.last = s.sample()
		s.log.Info().Msg("media connected")
		s.d.emit(s, control.MediaEvent{Kind: control.EventState, State: control.StateConnected})
		if !s.publisher {
			s.attach()
		}
	case webrtc.PeerConnectionStateClosed:
		// The peer closed it (a DTLS close_notify: the WebSDK closes its peer connections when
		// its WebSocket is lost, a keepAlive session included): no media will come or go any
		// more, so the media session ends now rather than staying PUBLISHING/PLAYING without
		// media. Our own close happens only after the session has ended (teardown).
		// A client that stops a stream sends its stop and closes at once; the stop travels through
		// its signal node and may come a moment after the close_notify. Give it peerClosedGrace:
		// when it comes the stream ends as stopped, with its own status (end runs once).
		// A connection closed after ICE came up but before it ever connected is a DTLS failure:
		// pion closes it itself when the peer's certificate does not match the fingerprint (it
		// does so instead of going to failed, depending on timing; TestDTLSFailure saw both).
		s.log.Info().Msg("peer closed the connection")
		info := wcs.InfoStoppedBySessionDisconn
		if !s.connected && s.iceUp.Load() {
			info = wcs.InfoDTLSError
			s.d.met.iceFailures.WithLabelValues(causeDTLS).Inc()
		}
		time.AfterFunc(peerClosedGrace, func() {
			s.d.end(s, control.StateFailed, info, true)
		})
	case webrtc.PeerConnectionStateFailed:
		// docs/protocol.md §E.2: ICE that never connected timed out (pion's own checking deadline may
		// come before ICETimeout); ICE up without a connection is a DTLS failure; a connection that
		// was up and failed lost ICE.
		info, cause := wcs.InfoICEError, causeICELost
		switch {
		case !s.connected && !s.iceUp.Load():
			info, cause = wcs.InfoICETimeout, causeICETimeout
		case !s.connected:
			info, cause = wcs.InfoDTLSError, causeDTLS
		}
		s.log.Info().Str("info", info).Msg("media failed")
		s.d.met.iceFailures.WithLabelValues(cause).Inc()
		s.d.end(s, control.StateFailed, info, true)
	}
}

// attach starts forwarding to a connected player: its down-tracks join the publisher's tracks,
// which asks the publisher for a key frame (docs/protocol.md §E.3), and it learns the picture size.
func (s *session) attach() {
	for _, dt := range s.downs {
		if err := dt.Source().AddDown(dt); err != nil {
			s.log.Debug().Err(err).Msg("attach to publisher track")
		}
	}
	if t := s.st.video(); t != nil {
		if w, h := t.Size(); w > 0 {
			s.d.emit(s, control.MediaEvent{Kind: control.EventFormat, Width: w, Height: h})
		}
	}
}

// teardown runs once, in run, after the session has ended: close the peer connection, detach,
// wait for the session's goroutines. The peer connection closes first: a write blocked on a
// subscriber's socket (ICE-TCP to a client that stopped reading) returns once the transport is
// closed, and only then can RemoveDown hand its writer the remove message.
func (s *session) teardown() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if s.pc != nil {
		if err := s.pc.Close(); err != nil {
			s.log.Debug().Err(err).Msg("close peer connection")
		}
	}
	if s.call != nil {
		_ = s.call.leg.Close() // its reader is one of the session's goroutines
	}
	for _, dt := range s.downs {
		dt.Source().RemoveDown(dt)
	}
	s.wg.Wait() // track readers end when the peer connection closes
	s.closeTracks()
	if s.pc != nil {
		s.d.pcs.Add(-1)
		s.pcState.remove()
	}
	s.d.met.mediaSessions.WithLabelValues(s.role()).Dec()
	s.log.Debug().Msg("media session closed")
}

// closeTracks stops a publisher's tracks, once their readers have ended.
func (s *session) closeTracks() {
	if s.publisher {
		s.st.close()
		s.d.met.publishedTracks.Sub(float64(len(s.st.tracks)))
	}
}

// discard releases a session that was never started (its request failed).
func (s *session) discard() {
	s.cancel()
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if s.pc != nil {
		_ = s.pc.Close()
		s.d.pcs.Add(-1)
		s.pcState.remove()
	}
	s.wg.Wait()
	s.closeTracks()
}

// goSession runs f as one of the session's goroutines unless the session is closing.
func (s *session) goSession(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// sample returns what the rate event describes: received video for a publisher, sent video for a
// player (docs/protocol.md §C.18).
func (s *session) sample() rateSample {
	r := rateSample{at: time.Now()}
	if s.publisher {
		if t := s.st.video(); t != nil {
			st := t.Stats()
			r.bytes, r.frames = st.Bytes, st.Frames
		}
		return r
	}
	for _, dt := range s.downs {
		if dt.Kind() == webrtc.RTPCodecTypeVideo {
			st := dt.Stats()
			r.bytes, r.frames = st.Bytes, st.Frames
		}
	}
	return r
}

// rate computes one second of statistics. nack, pli and lostPackets are cumulative, like the
// browser's own getStats counters.
func (s *session) rate() *control.Rate {
	now := s.sample()
	dt := now.at.Sub(s.last.at).Seconds()
	r := &control.Rate{}
	if dt > 0 {
		r.VideoRate = int64(float64(now.bytes-s.last.bytes) * 8 / dt)
		r.FPS = int(float64(now.frames-s.last.frames)/dt + 0.5)
	}
	s.last = now
	vt := s.st.video()
	if s.publisher {
		if vt != nil {
			st := vt.Stats()
			r.LostPackets = st.Lost
			r.PLI = st.KeyframeRequests
		}
		r.NACK = s.rtcp.NACKsSent.Load()
	} else {
		for _, d := range s.downs {
			if d.Kind() == webrtc.RTPCodecTypeVideo {
				st := d.Stats()
				r.NACK, r.PLI, r.LostPackets = st.NACKs, st.PLIs, st.Lost
			}
		}
	}
	if vt != nil {
		r.Width, r.Height = vt.Size()
	}
	return r
}

// end finishes a media session once: unindex it, tell its owner (notify) with state/info, and end
// the players of a publisher with "closed" and info (default "Stopped by publisher stop",
// docs/protocol.md §E.4, §E.8). The peer connection is closed by the session's run goroutine.
func (d *Daemon) end(s *session, state, info string, notify bool) {
	if !s.ended.CompareAndSwap(false, true) {
		return
	}
	d.unindex(s)
	var players []*session
	if s.publisher {
		players = s.st.end()
	} else if s.st.removePlayer(s) && s.st.relay != nil {
		s.st.relay.release() // the edge's last player of a relayed stream is gone
	}
	if notify {
		d.emit(s, control.MediaEvent{Kind: control.EventState, State: state, Info: info})
	}
	s.cancel()
	playerInfo := info
	if playerInfo == "" || state == control.StateFailed {
		playerInfo = wcs.InfoStoppedByPublisherStop
	}
	for _, p := range players {
		d.end(p, control.StateClosed, playerInfo, true)
	}
}
