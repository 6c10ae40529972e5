// Package session is the WCS session state machine of one signalling connection (docs/protocol.md §B,
// §C, §E). Its state belongs to one goroutine (Run): client frames, media events and the watchdog
// are serialised there, so setRemoteSDP always precedes PUBLISHING/PLAYING and each media session
// gets exactly one terminal status (§H.4).
package session

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/sipua"
	"github.com/potok-media/potok/signal/wsconn"
)

// DefaultMediaTimeout resolves a media session that never reached connected (docs/protocol.md §0 rule 10).
const DefaultMediaTimeout = 20 * time.Second

// Media is what a session needs from the media tier; *mediactl.Client implements it.
type Media interface {
	PickMediaNode() (string, error)
	// PickRelayNode: the least loaded media daemon other than origin, for a relayed player.
	PickRelayNode(origin string) (string, error)
	MediaNodeAlive(node string) bool
	ClaimStream(ctx context.Context, rec control.StreamRecord) (uint64, error)
	ReleaseStream(ctx context.Context, name string, rev uint64) error
	LookupStream(ctx context.Context, name string) (control.StreamRecord, error)
	Publish(ctx context.Context, node string, req control.PublishRequest) (control.PublishReply, error)
	Play(ctx context.Context, node string, req control.PlayRequest) (control.PlayReply, error)
	Stop(ctx context.Context, node string, req control.StopRequest) error
	StreamEvent(ctx context.Context, node string, req control.StreamEventRequest) error
}

// Outbox delivers frames to the client without blocking; false means the frame was not queued
// (the connection is gone or was dropped).
type Outbox interface {
	Send(frame []byte) bool
	// Close closes the connection once the frames queued before are out.
	Close(code websocket.StatusCode, reason string)
}

// Config of one session.
type Config struct {
	NodeID      string
	NodeStarted int64 // the node's incarnation (control.Owner.SignalStarted)
	// Draining, once true, makes the session ignore media state events: the server is shutting
	// down and every session's teardown sends its clients their one terminal status itself.
	Draining      *atomic.Bool
	SessionID     string        // "" = a new UUID; also the authToken (docs/protocol.md §C.1)
	MediaTimeout  time.Duration // 0 = DefaultMediaTimeout
	MaxFrameBytes int           // 0 = wcs.MaxFrameBytes
	Origin        string        // the Origin of the WebSocket upgrade (connect hook, /connection/find)

	// Hooks sends the REST hooks (nil: none, as WCS with hooks off); Apps finds the client's
	// application (nil: any appKey is accepted). docs/protocol.md §F.
	Hooks *hooks.Client
	Apps  Apps
	// KeepAliveInterval of StreamKeepAliveEvent; 0 = none.
	KeepAliveInterval time.Duration
	// PreferMediad, when set, serves this node's players from that media daemon (relaying the
	// stream from its origin) while it is alive: a signal node placed beside a media daemon keeps
	// its players' media local.
	PreferMediad string
	// ConnectionDeadline closes a socket that has not established the session by then
	// (deadline.go); 0 = none.
	ConnectionDeadline time.Duration
	// KeepAliveGrace: a session whose connection asked keepAlive outlives its socket this long
	// (docs/protocol.md §H.8); 0 = never.
	KeepAliveGrace time.Duration
	// SIP is the node's SIP user agent (nil: no SIP; registrations and calls are refused).
	SIP SIP
	// Reattach hands this session's socket to the detached session of authToken, which then
	// serves it (nil = no re-attach); false when there is none.
	Reattach func(authToken string, raw map[string]json.RawMessage) bool
}

const (
	frameQueue = 16  // the reader waits when the session is busy: backpressure on this client only
	eventQueue = 128 // media events are dropped (and counted) beyond this
	stopBudget = 3 * time.Second
)

// Session is one WCS session.
type Session struct {
	cfg   Config
	media Media
	out   *switchOut // the connection's Outbox; swapped by a keepAlive re-attach (reattach.go)
	m     *metrics.Signal
	log   zerolog.Logger // baseLog, at a session's own level while its client log is on
	// baseLog is the session's logger at the server's level.
	baseLog zerolog.Logger
	unraise func() // ends log's own level (SetLogLevel); owned by Run
	msgSeq  int    // the SIP MESSAGEs received, which number their ids (message.go)

	frames   chan inbound
	calls    chan call                // from the REST API (Do)
	events   chan *control.MediaEvent // expendable: rates and stream data
	woken    chan struct{}            // lossless has something
	lossless lossless
	ends     chan bool // true: tell the client (server shutdown); false: the socket is gone
	done     chan struct{}

	ctx     context.Context // cancelled when the session ends: aborts a request in flight
	cancel  context.CancelFunc
	endOnce sync.Once

	handedOver atomic.Bool // this session gave its socket to a re-attached one

	// Owned by the Run goroutine.
	connected bool
	appKey    string
	fields    map[string]json.RawMessage // the connection object as received
	keepAlive bool                       // the connection asked keepAlive (§H.8)
	detached  bool                       // kept after its socket went, waiting for a re-attach
	grace     *time.Timer                // while detached
	missed    []wcs.Stream               // statuses sent while detached, replayed on a re-attach
	streams   map[string]*mediaSession
	sipAcc    *sipua.Account      // the connection's SIP account (sip.go); nil: none
	reg       *sipua.Registration // while registered
	sipCalls  map[string]*sipCall // by callId
	app       rest.App            // the client's application (§F.2)
	queue     *hooks.Queue        // the session's hook events; nil without hooks

	// hookCfg is the session's restClientConfig (nil: WCS's defaults), read also by the queue's
	// goroutine.
	hookCfg atomic.Pointer[hooks.Config]
}

// New creates a session; call Run to start it.
func New(cfg Config, media Media, out Outbox, m *metrics.Signal, log zerolog.Logger) *Session {
	if cfg.SessionID == "" {
		cfg.SessionID = uuid.NewString()
	}
	if cfg.MediaTimeout <= 0 {
		cfg.MediaTimeout = DefaultMediaTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	log = log.With().Str("sessionId", cfg.SessionID).Logger()
	return &Session{
		cfg: cfg, media: media, out: &switchOut{cur: out}, m: m,
		log: log, baseLog: log,
		frames: make(chan inbound, frameQueue),
		calls:  make(chan call),
		events: make(chan *control.MediaEvent, eventQueue),
		woken:  make(chan struct{}, 1),
		ends:   make(chan bool, 1),
		done:   make(chan struct{}),
		ctx:    ctx, cancel: cancel,
		streams: map[string]*mediaSession{}, sipCalls: map[string]*sipCall{},
	}
}

// ID is the session id (and authToken).
func (s *Session) ID() string { return s.cfg.SessionID }

// Done is closed when Run has returned.
func (s *Session) Done() <-chan struct{} { return s.done }

// inbound is one client frame for Run: a whole one, or one too large to be read.
type inbound struct {
	frame    []byte
	tooLarge *wsconn.TooLarge
	answered chan struct{} // closed once a frame too large is answered (nil: nobody waits)
}

// Frame hands one client text frame to the session, waiting while the session is busy.
func (s *Session) Frame(b []byte) {
	s.put(inbound{frame: b})
}

// FrameTooLarge hands the session a frame too large to be read, in order with the others; Run
// answers it (see handleTooLarge). When the connection is about to close, it returns only once the
// answer is queued, so that the answer goes out before the close.
func (s *Session) FrameTooLarge(f wsconn.TooLarge) {
	in := inbound{tooLarge: &f}
	if f.Closing {
		in.answered = make(chan struct{})
	}
	if !s.put(in) || in.answered == nil {
		return
	}
	select {
	case <-in.answered:
	case <-s.done:
	}
}

func (s *Session) put(in inbound) bool {
	select {
	case s.frames <- in:
		return true
	case <-s.done:
		return false
	}
}

// Event hands a media event to the session without blocking the NATS delivery goroutine. Rate
// and stream-data events are expendable and dropped (counted) when the queue is full; state
// events, picture-size changes and node-down notices are never dropped, because losing one could
// leave a client stream PLAYING or PENDING forever (docs/protocol.md §0 rule 10).
func (s *Session) Event(ev control.MediaEvent) {
	switch ev.Kind {
	case control.EventRate, control.EventStreamEvent:
		select {
		case s.events <- &ev:
		case <-s.done:
		default:
			s.m.Error(metrics.ReasonEventDropped)
			s.log.Debug().Str("mediaSessionId", ev.MediaSessionID).Str("kind", ev.Kind).Msg("event queue full, event dropped")
		}
	default:
		s.lossless.add(&ev, nodeDown{})
		s.wake()
	}
}

// NodeDown tells the session that a media daemon is gone, without blocking: its media sessions
// there have ended (design.md "Failure").
func (s *Session) NodeDown(node, info string) {
	s.lossless.add(nil, nodeDown{node: node, info: info})
	s.wake()
}

// ControlPlaneLost tells the session, without blocking, that the control plane has been
// unreachable for longer than the grace: every media session ends FAILED "Control plane
// unavailable" (README "Control plane faults").
func (s *Session) ControlPlaneLost() {
	s.lossless.add(nil, nodeDown{info: wcs.InfoControlPlaneDown})
	s.wake()
}

// nodeDown ends the media sessions on node ("" = every node) with info; with mediaSessionID, only
// that one (a stream the backend's keep-alive refused, §F.4).
type nodeDown struct{ node, info, mediaSessionID string }

func (s *Session) wake() {
	select {
	case s.woken <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// lossless holds the events that must reach Run. Its size is bounded by what it keeps: state
// events (a handful per media session, at most wcs.MaxMediaSessions sessions), the latest picture
// size per media session, and media daemons that went down.
type lossless struct {
	mu      sync.Mutex
	states  []*control.MediaEvent
	formats map[string]*control.MediaEvent
	downs   []nodeDown
}

func (l *lossless) add(ev *control.MediaEvent, down nodeDown) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case ev == nil:
		l.downs = append(l.downs, down)
	case ev.Kind == control.EventFormat:
		if l.formats == nil {
			l.formats = map[string]*control.MediaEvent{}
		}
		l.formats[ev.MediaSessionID] = ev // only the latest size matters
	default:
		l.states = append(l.states, ev)
	}
}

func (l *lossless) take() (states []*control.MediaEvent, formats map[string]*control.MediaEvent, downs []nodeDown) {
	l.mu.Lock()
	defer l.mu.Unlock()
	states, formats, downs = l.states, l.formats, l.downs
	l.states, l.formats, l.downs = nil, nil, nil
	return states, formats, downs
}

// drainLossless runs the pending lossless events in order: states, then sizes, then node downs.
func (s *Session) drainLossless() {
	states, formats, downs := s.lossless.take()
	for _, ev := range states {
		s.handleEvent(*ev)
	}
	for _, ev := range formats {
		s.handleEvent(*ev)
	}
	for _, d := range downs {
		if d.mediaSessionID != "" {
			s.endStream(d.mediaSessionID, d.info)
			continue
		}
		s.onNodeDown(d.node, d.info)
	}
}

// Disconnect ends the session after its socket is gone: media stopped, names released, nothing
// sent (docs/protocol.md §E.8). Shutdown ends it while the socket is still open: every live media
// session first gets its terminal status. Only the first of the two counts.
func (s *Session) Disconnect() { s.end(false) }

// Shutdown ends the session for a server shutdown; see Disconnect.
func (s *Session) Shutdown() { s.end(true) }

func (s *Session) end(notify bool) {
	s.endOnce.Do(func() {
		s.cancel()
		s.ends <- notify
	})
}

// Run is the session's goroutine; it returns once the session has ended and its media is stopped.
func (s *Session) Run() {
	defer close(s.done)
	defer s.releaseLog()
	defer s.cancel()
	defer s.stopGrace()
	watchdog := time.NewTimer(time.Hour)
	defer watchdog.Stop()
	var keepAlive <-chan time.Time
	if s.cfg.KeepAliveInterval > 0 && s.cfg.Hooks != nil {
		t := time.NewTicker(s.cfg.KeepAliveInterval)
		defer t.Stop()
		keepAlive = t.C
	}
	var connDeadline <-chan time.Time
	if s.cfg.ConnectionDeadline > 0 {
		t := time.NewTimer(s.cfg.ConnectionDeadline)
		defer t.Stop()
		connDeadline = t.C
	}
	for {
		s.armWatchdog(watchdog)
		select {
		case notify := <-s.ends:
			s.teardown(notify)
			s.closeHooks()
			return
		case <-keepAlive:
			s.keepAliveHooks()
		case <-s.graceC():
			s.graceOver()
		case <-connDeadline:
			s.connectionDeadline()
		case in := <-s.frames:
			if in.tooLarge != nil {
				s.handleTooLarge(*in.tooLarge)
			} else {
				s.handleFrame(in.frame)
			}
			if in.answered != nil {
				close(in.answered)
			}
		case ev := <-s.events:
			s.handleEvent(*ev)
		case c := <-s.calls:
			c.fn()
			close(c.done)
		case <-s.woken:
			s.drainLossless()
		case now := <-watchdog.C:
			s.expirePending(now)
		}
	}
}

// send encodes and queues one server frame.
func (s *Session) send(message string, args ...any) {
	frame, err := wcs.Encode(message, args...)
	if err != nil {
		s.log.Error().Err(err).Str("message", message).Msg("encode")
		return
	}
	if !s.out.Send(frame) {
		s.log.Debug().Str("message", message).Msg("frame not sent: connection gone")
	}
}

// sendFail sends a fail frame (docs/protocol.md §C.13). With no apiMethod only the SDK's WARN fires.
func (s *Session) sendFail(apiMethod, info string) {
	s.send(wcs.MsgFail, wcs.Fail{Status: wcs.StatusFailed, Info: info, APIMethod: apiMethod})
	if apiMethod == "" {
		s.post(hooks.ErrorEvent, map[string]any{"info": info})
	}
}

// sendStreamFail fails a stream the SDK knows by id through fail/StreamStatusEvent (§C.13).
func (s *Session) sendStreamFail(id, name string, published bool, info string) {
	s.send(wcs.MsgFail, wcs.Fail{Status: wcs.StatusFailed, Info: info, APIMethod: wcs.APIStreamStatusEvent,
		ID: id, MediaSessionID: id, Name: name, Published: &published})
	s.post(hooks.StreamStatusEvent, map[string]any{"mediaSessionId": id, "name": name, "published": published,
		"status": wcs.StatusFailed, "info": info})
}
