// Package mediad is the media daemon: it serves the signal tier's control RPCs over NATS
// (api/control), terminates the browsers' WebRTC sessions with pion (full ICE on one UDP and one
// TCP port), forwards each published stream to its players, and reports state, rates and picture
// size back to the owning signal node (docs/protocol.md §E.2–§E.8, §C.18).
package mediad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/mediad/rtc"
	"github.com/potok-media/potok/mediad/sipleg"
)

// Version is reported in the node record.
var Version = "dev"

// DefaultICETimeout resolves a media session that never connects (docs/protocol.md §0 item 10).
const DefaultICETimeout = 15 * time.Second

// Config configures one daemon.
type Config struct {
	NodeID       string
	ListenIP     string                // bind address for the media ports; "" = 0.0.0.0
	UDPPort      int                   // the one ICE UDP port; 0 = pick a free one
	TCPPort      int                   // the one ICE-TCP port; 0 = pick a free one; -1 = ICE-TCP off
	PublicIPs    []string              // advertised addresses (NAT 1:1); empty = the bound interface addresses
	LoopbackOnly bool                  // tests/local: only 127.0.0.1 candidates (docs/protocol.md §P.1)
	ICETimeout   time.Duration         // a media session not connected by then ends FAILED "Failed by ICE timeout"; 0 = 15s
	Registerer   prometheus.Registerer // nil = no metrics registration
	// Heartbeat is how often the node record is refreshed and orphaned sessions are swept;
	// 0 = control.NodeHeartbeat. It must stay well under control.NodeDownAfter. Tests shorten it.
	Heartbeat time.Duration
	// Directory is how the directory buckets are stored (memory by default).
	Directory bus.DirectoryConfig
	// MaxPlayersPerStream: past this many players of one stream here, new ones are refused with
	// control.ErrOriginFull, so that signal places them on another daemon relaying from this one
	// (0 = no limit).
	MaxPlayersPerStream int
	// RTPPortMin, RTPPortMax: the range of the SIP calls' RTP ports (an even port per call);
	// 0, 0 = any free port.
	RTPPortMin, RTPPortMax int
}

// Daemon is a running media daemon.
type Daemon struct {
	cfg  Config
	link *bus.Link
	nc   *nats.Conn
	log  zerolog.Logger
	tr   *rtc.Transport
	// rtpPorts hands out the SIP calls' RTP ports (call.go), on the media address.
	rtpPorts *sipleg.Ports
	dir      *bus.Directory
	met      *metrics
	started  time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	subs   []*nats.Subscription
	wg     sync.WaitGroup // every goroutine of the daemon and its sessions
	pcs    atomic.Int64
	sweeps atomic.Int64 // heartbeat rounds completed (tests wait on it instead of on the clock)
	dirOK  atomic.Bool  // the last heartbeat reached the directory (readiness)
	load   loadMeter    // the node record's load, measured at each heartbeat
	// draining: SIGTERM received (Drain); new publish and play requests are refused and the
	// heartbeat says so, so that signal nodes place nothing new here.
	draining atomic.Bool
	idle     chan struct{} // signalled by unindex while draining when the last session is gone

	// mu guards only the indexes; each stream's own state belongs to its stream.
	mu       sync.Mutex
	closed   bool
	sessions map[string]*session // by owner key (control.Owner.Key)
	streams  map[string]*stream  // by stream name: the ones published here
	relays   map[string]*relay   // by stream name: the ones relayed here from their origin
	pulls    map[string]*pull    // by owner key: streams pulled here from other servers (pull.go)
}

// Start opens the media ports, registers the node and serves the control RPCs. ctx bounds the
// start-up only; the daemon lives until Close.
func Start(ctx context.Context, cfg Config, link *bus.Link, log zerolog.Logger) (*Daemon, error) {
	if cfg.NodeID == "" {
		return nil, errors.New("mediad: NodeID is required")
	}
	if link == nil {
		return nil, errors.New("mediad: NATS connection is required")
	}
	if cfg.ICETimeout <= 0 {
		cfg.ICETimeout = DefaultICETimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = control.NodeHeartbeat
	}
	if cfg.Heartbeat >= control.NodeDownAfter {
		return nil, fmt.Errorf("mediad: heartbeat %v must be shorter than %v, after which signal nodes count a silent mediad as down",
			cfg.Heartbeat, control.NodeDownAfter)
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	dir, err := bus.OpenDirectory(ctx, link.Conn, cfg.Directory)
	if err != nil {
		return nil, fmt.Errorf("mediad: %w", err)
	}
	tr, err := rtc.Listen(rtc.Options{ListenIP: cfg.ListenIP, UDPPort: cfg.UDPPort, TCPPort: cfg.TCPPort,
		PublicIPs: cfg.PublicIPs, LoopbackOnly: cfg.LoopbackOnly, Logger: log, OnUDPError: met.udpError})
	if err != nil {
		return nil, fmt.Errorf("mediad: %w", err)
	}
	d := &Daemon{cfg: cfg, link: link, nc: link.Conn, log: log, tr: tr, dir: dir, met: met, started: time.Now(),
		rtpPorts: rtpPorts(cfg, tr),
		sessions: map[string]*session{}, streams: map[string]*stream{}, relays: map[string]*relay{},
		pulls: map[string]*pull{},
		idle:  make(chan struct{}, 1)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if err := d.heartbeat(ctx); err != nil {
		_ = tr.Close()
		return nil, err
	}
	if err := d.serve(); err != nil {
		d.cancel()
		for _, s := range d.subs {
			_ = s.Unsubscribe()
		}
		_ = tr.Close()
		return nil, err
	}
	events := link.Watch()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.heartbeatLoop(events)
	}()
	log.Info().Stringer("udp", tr.UDPAddr()).Msg("mediad serving")
	return d, nil
}

// NodeID is the daemon's node id.
func (d *Daemon) NodeID() string { return d.cfg.NodeID }

// UDPAddr is the ICE UDP address shared by every peer connection.
func (d *Daemon) UDPAddr() *net.UDPAddr { return d.tr.UDPAddr() }

// TCPAddr is the ICE-TCP address, nil when ICE-TCP is off.
func (d *Daemon) TCPAddr() *net.TCPAddr { return d.tr.TCPAddr() }

// PeerConnections is the number of live pion peer connections (for leak checks).
func (d *Daemon) PeerConnections() int { return int(d.pcs.Load()) }

// Close ends every media session, closes every peer connection and waits for every goroutine.
// Owners are not notified (the node record disappears; signal nodes watch it).
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	all := make([]*session, 0, len(d.sessions))
	for _, s := range d.sessions {
		all = append(all, s)
	}
	d.mu.Unlock()
	var errs []error
	for _, s := range d.subs {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
	}
	d.cancel()
	for _, s := range all {
		d.end(s, "", "", false)
	}
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := d.dir.Nodes.Delete(ctx, control.NodeKey(d.cfg.NodeID)); err != nil && !d.nc.IsClosed() {
		errs = append(errs, fmt.Errorf("mediad: delete node record: %w", err))
	}
	errs = append(errs, d.tr.Close())
	return errors.Join(errs...)
}

// index registers s (and a publisher's stream) and counts its run goroutine in wg. It fails when
// the daemon is closing or the media session id or stream name is taken.
func (d *Daemon) index(s *session) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return wcs.InfoFailedByError
	case d.sessions[s.key] != nil:
		return wcs.InfoMediaSessionIDInUse
	case s.publisher && s.call == nil && d.streams[s.st.name] != nil:
		return wcs.InfoStreamNameAlreadyInUse
	}
	d.sessions[s.key] = s
	if s.publisher && s.call == nil {
		d.streams[s.st.name] = s.st
	}
	d.wg.Add(1)
	return ""
}

// unindex removes s (and a publisher's stream) from the indexes, if they still point at it.
func (d *Daemon) unindex(s *session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sessions[s.key] == s {
		delete(d.sessions, s.key)
	}
	if s.publisher && s.call == nil && d.streams[s.st.name] == s.st {
		delete(d.streams, s.st.name)
	}
	d.wakeIfIdleLocked()
}

// wakeIfIdleLocked wakes Drain once the daemon holds nothing: no media session, no pull.
// Called with d.mu held.
func (d *Daemon) wakeIfIdleLocked() {
	if len(d.sessions) == 0 && len(d.pulls) == 0 && d.draining.Load() {
		select {
		case d.idle <- struct{}{}:
		default: // Drain has a wake-up pending already
		}
	}
}

// session finds a media session by owner key.
func (d *Daemon) session(key string) *session {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sessions[key]
}

// stream finds a published stream by name.
func (d *Daemon) stream(name string) *stream {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.streams[name]
}

// serve subscribes the control RPCs. Each request runs in its own goroutine (an answer waits for
// pion), owned by the daemon's WaitGroup.
func (d *Daemon) serve() error {
	ops := map[string]func(*nats.Msg) any{
		control.OpPublish:     d.handlePublish,
		control.OpPlay:        d.handlePlay,
		control.OpStop:        d.handleStop,
		control.OpOwned:       d.handleOwned,
		control.OpCall:        d.handleCall,
		control.OpCallAnswer:  d.handleCallAnswer,
		control.OpCallHold:    d.handleCallHold,
		control.OpCallDTMF:    d.handleCallDTMF,
		control.OpStreamEvent: d.handleStreamEvent,
		control.OpRelay:       d.handleRelay,
		control.OpRelayStop:   d.handleRelayStop,
		control.OpRoutes:      d.handleRoutes,
		control.OpPull:        d.handlePull,
		control.OpPullStop:    d.handlePullStop,
		control.OpPulls:       d.handlePulls,
		control.OpLogLevel:    d.handleLogLevel,
	}
	for op, h := range ops {
		h := refuseWhileDraining(d, op, h)
		sub, err := d.nc.Subscribe(control.MediaSubject(d.cfg.NodeID, op), func(m *nats.Msg) {
			d.mu.Lock()
			closed := d.closed
			if !closed {
				d.wg.Add(1)
			}
			d.mu.Unlock()
			if closed {
				return
			}
			go func() {
				defer d.wg.Done()
				if err := bus.Reply(m, h(m)); err != nil {
					d.log.Warn().Err(err).Str("op", op).Msg("reply")
				}
			}()
		})
		if err != nil {
			return fmt.Errorf("mediad: subscribe %s: %w", op, err)
		}
		d.subs = append(d.subs, sub)
	}
	sub, err := d.nc.Subscribe(control.MediaSubject(d.cfg.NodeID, control.OpRelayEvent), d.onRelayEvent)
	if err != nil {
		return fmt.Errorf("mediad: subscribe %s: %w", control.OpRelayEvent, err)
	}
	d.subs = append(d.subs, sub)
	return d.nc.Flush()
}

// refuseWhileDraining wraps the handler of op so that a draining daemon refuses new media
// sessions (publish, play) with InfoMediaNodeDraining; stops and stream events go on. The reply
// is a StopReply: its only field, error, is the one publish and play replies carry too.
func refuseWhileDraining(d *Daemon, op string, h func(*nats.Msg) any) func(*nats.Msg) any {
	if op != control.OpPublish && op != control.OpPlay && op != control.OpPull && op != control.OpCall {
		return h
	}
	return func(m *nats.Msg) any {
		if d.draining.Load() {
			return control.StopReply{Error: wcs.InfoMediaNodeDraining}
		}
		return h(m)
	}
}

// Drain makes the daemon leave gracefully (SIGTERM; design.md "Failure"): its heartbeat says
// Draining at once, so signal nodes place nothing new here, and new publish and play requests are
// refused. The sessions it holds go on for up to grace, so that clients who leave meanwhile
// leave as usual; those still here then end with their owners told (FAILED "Media server
// shutdown", docs/protocol.md §E.8), and so do the players of their publishers. It returns once
// no session is left or ctx ends; call Close after it.
func (d *Daemon) Drain(ctx context.Context, grace time.Duration) error {
	d.draining.Store(true)
	d.log.Info().Dur("grace", grace).Int("mediaSessions", d.sessionCount()).Msg("draining: no new media sessions")
	bctx, cancel := context.WithTimeout(ctx, d.cfg.Heartbeat)
	d.beat(bctx) // signal nodes learn it now, not at the next tick
	cancel()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for d.sessionCount()+d.Pulls() > 0 {
		select {
		case <-d.idle:
		case <-timer.C:
			n := d.endOwnedByNotified(wcs.InfoMediaNodeShutdown)
			// Pulls end as a publisher does: their players are told, and so is the owner,
			// which frees the name.
			p := d.endPulls(wcs.InfoMediaNodeShutdown)
			d.log.Warn().Int("mediaSessions", n).Int("pulls", p).Msg("drain grace over: media sessions and pulls ended")
		case <-ctx.Done():
			return fmt.Errorf("mediad: drain: %d media sessions and %d pulls left: %w", d.sessionCount(), d.Pulls(), ctx.Err())
		}
	}
	// The owners' events are buffered by the NATS client: out before the record goes (Close).
	if err := d.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("mediad: drain: flush events: %w", err)
	}
	d.log.Info().Msg("drained")
	return nil
}

// Draining reports whether Drain has begun.
func (d *Daemon) Draining() bool { return d.draining.Load() }

func (d *Daemon) sessionCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sessions)
}

// endOwnedByNotified ends every media session with its owner told: state closed with info.
func (d *Daemon) endOwnedByNotified(info string) int {
	d.mu.Lock()
	all := make([]*session, 0, len(d.sessions))
	for _, s := range d.sessions {
		all = append(all, s)
	}
	d.mu.Unlock()
	for _, s := range all {
		d.end(s, control.StateClosed, info, true)
	}
	return len(all)
}

// emit sends one event to the signal node owning s. nats.Conn.Publish only buffers, so this never
// blocks the caller for long.
func (d *Daemon) emit(s *session, ev control.MediaEvent) {
	if s.relay {
		d.emitRelay(s, ev)
		return
	}
	ev.Owner = s.owner
	ev.Publisher = s.publisher
	if err := bus.Publish(d.nc, control.SignalEventsSubject(s.owner.SignalNode), ev); err != nil {
		s.log.Debug().Err(err).Str("kind", ev.Kind).Msg("emit event")
	}
}

// endOwnedBy ends, without notifying their owner, the sessions whose owner matches, and returns
// how many; players of those publishers on other sessions get "Stopped by publisher stop"
// (docs/protocol.md §E.8).
func (d *Daemon) endOwnedBy(match func(control.Owner) bool) int {
	d.mu.Lock()
	var gone []*session
	for _, s := range d.sessions {
		if match(s.owner) {
			gone = append(gone, s)
		}
	}
	d.mu.Unlock()
	for _, s := range gone {
		d.end(s, "", "", false)
	}
	return len(gone) + d.endPullsOwnedBy(match)
}

func (d *Daemon) handleStop(m *nats.Msg) any {
	var req control.StopRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.StopReply{Error: "bad request: " + err.Error()}
	}
	// The info is passed on to players of a stopped publisher: only WCS's or Potok's own texts.
	if !wcs.KnownInfo(req.Info) {
		d.log.Warn().Str("info", req.Info).Str("mediaSessionId", req.MediaSessionID).Msg("stop with an unknown info refused")
		return control.StopReply{Error: "bad request: unknown info text"}
	}
	s := d.session(req.Owner.Key())
	if s == nil { // a stop for an unknown id is not an error: it may have ended already
		return control.StopReply{}
	}
	// The owner must be the whole owner, incarnation included: a stop naming another life of the
	// signal node (or a guessed one) does not end this session.
	if req.Owner != s.owner {
		s.log.Warn().Int64("signalStarted", req.SignalStarted).Msg("stop with a wrong owner refused")
		return control.StopReply{Error: "bad request: not the owner of this media session"}
	}
	s.log.Info().Str("info", req.Info).Msg("stop requested")
	d.end(s, "", req.Info, false)
	return control.StopReply{}
}

// Publishes reports whether name is published on this daemon (tests, placement checks).
func (d *Daemon) Publishes(name string) bool { return d.stream(name) != nil }

// Players counts the sessions playing name here: the players of a stream published here (a
// relay to another daemon counts as one), or of a stream relayed here.
func (d *Daemon) Players(name string) int {
	st := d.stream(name)
	if st == nil {
		if r := d.relayOf(name); r != nil {
			st = r.st
		}
	}
	if st == nil {
		return 0
	}
	return len(st.playerList())
}

// Relays counts the streams relayed here from their origin.
func (d *Daemon) Relays() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.relays)
}

// handleOwned lists the media sessions a signal node owns here (not the origin's side of relays,
// which the edges own): a signal node that judged this daemon down and then hears it again stops
// the ones it ended meanwhile (signal reconcile.go).
func (d *Daemon) handleOwned(m *nats.Msg) any {
	var req control.OwnedRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.SignalNode == "" {
		return control.OwnedReply{Error: "bad request: signalNode is required"}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := control.OwnedReply{Owners: []control.Owner{}}
	for _, s := range d.sessions {
		if !s.relay && s.owner.SignalNode == req.SignalNode {
			out.Owners = append(out.Owners, s.owner)
		}
	}
	return out
}

// rtpPorts is where the SIP calls' RTP legs bind: the media ports' address, advertised as the
// first public IP when one is set.
func rtpPorts(cfg Config, tr *rtc.Transport) *sipleg.Ports {
	p := &sipleg.Ports{IP: tr.UDPAddr().IP, Min: cfg.RTPPortMin, Max: cfg.RTPPortMax}
	if len(cfg.PublicIPs) > 0 {
		p.Public = net.ParseIP(cfg.PublicIPs[0])
	}
	return p
}
