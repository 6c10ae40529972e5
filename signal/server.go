// Package signal is Potok's signalling tier: the WCS WebSocket endpoint (docs/protocol.md §A–§E) that
// drives media daemons over NATS (api/control). Subpackages: wsconn (transport), session (the WCS
// state machine), mediactl (directory, RPC and events), metrics.
package signal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/signal/cluster"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/mediactl"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/signal/sipua"
	"github.com/potok-media/potok/signal/wsconn"
)

// Config of a signal server. Zero values take WCS defaults.
type Config struct {
	NodeID         string
	MaxFrameBytes  int                   // 0 = wcs.MaxFrameBytes
	PingInterval   time.Duration         // 0 = 5s
	MissedPongs    int                   // 0 = 10
	AllowedOrigins []string              // empty = any origin (WCS default); else host patterns for websocket OriginPatterns
	MediaTimeout   time.Duration         // 0 = 20s
	Registerer     prometheus.Registerer // nil = none
	Directory      bus.DirectoryConfig   // how the directory buckets are stored

	// Hooks sends the REST hooks (nil: none); Apps is the application registry (nil: any appKey
	// is accepted and the REST API has no application endpoints). docs/protocol.md §F.
	Hooks            *hooks.Client
	Apps             cluster.Apps
	HookKeepAlive    time.Duration // StreamKeepAliveEvent period; 0 = none
	PreferMediad     string        // serve this node's players from this media daemon (relayed); "" = from the origin
	KeepAliveGrace   time.Duration // how long a keepAlive session outlives its socket (docs/protocol.md §H.8); 0 = never
	RESTQueryTimeout time.Duration // how long a cluster-wide REST answer waits; 0 = 2 s

	// Admission at the edge (admission.go): WebSocket sessions per client IP and per node
	// (0 = unlimited), and how long a new socket may take to send connection (0 = forever).
	MaxSessionsPerIP   int
	MaxSessions        int
	ConnectionDeadline time.Duration
	// SIP is the node's SIP user agent (nil: no SIP).
	SIP *sipua.Agent
	// Endpoint is where clients reach this node, written into its heartbeat for the lbUrl lookup
	// (lb.go, docs/protocol.md §H.7): the bound listener ports, and the public host or "" (the
	// host a request names). nil = not said.
	Endpoint *control.Endpoint
}

// Server is the WCS WebSocket endpoint of one signal node.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	m    *metrics.Signal
	ctl  *mediactl.Client
	rest *cluster.Cluster
	adm  *admission
	// refusedLog is log, sampled: refused upgrades come in floods.
	refusedLog zerolog.Logger

	nc       *nats.Conn // the control plane's connection, for re-attach tunnels (tunnel.go)
	mu       sync.Mutex
	clients  map[string]*client       // by session id
	tunnels  map[*edgeTunnel]struct{} // sockets here re-attached to sessions of other nodes
	closing  bool
	draining atomic.Bool    // set before any session is told to end: see session.Config.Draining
	wg       sync.WaitGroup // one per ServeHTTP in progress
	shutOnce sync.Once
}

type client struct {
	sess *session.Session
	conn conn // where the session's frames go; nil while a keepAlive session is detached
	// offer lets other signal nodes re-attach the session (tunnel.go).
	offer *nats.Subscription
}

var _ session.Media = (*mediactl.Client)(nil)

// New starts a signal node on nc: it joins the directory, watches the media daemons and listens
// for the media events addressed to it. Serve WebSockets with ServeHTTP; stop with Shutdown.
func New(ctx context.Context, cfg Config, link *bus.Link, log zerolog.Logger) (*Server, error) {
	if link == nil {
		return nil, errors.New("signal: no NATS connection")
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "signal-" + uuid.NewString()[:8]
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("signal: metrics: %w", err)
	}
	// The caller's logger carries nodeId and component (logging.Component).
	s := &Server{cfg: cfg, log: log, m: m, nc: link.Conn, clients: map[string]*client{}, tunnels: map[*edgeTunnel]struct{}{},
		adm: newAdmission(cfg.MaxSessionsPerIP, cfg.MaxSessions), refusedLog: log.Sample(refusedSampler())}
	s.ctl, err = mediactl.New(ctx, mediactl.Config{NodeID: cfg.NodeID, Sessions: s.Sessions, Endpoint: s.endpoint, OnEvent: s.route,
		OnNodeDown: s.nodeDown, OnNodeBack: s.nodeBack, OnSignalDown: s.signalDown, OnControlPlaneLost: s.controlPlaneLost, Directory: cfg.Directory},
		link, m, s.log)
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	s.rest, err = cluster.New(cluster.Config{NodeID: cfg.NodeID, Timeout: cfg.RESTQueryTimeout}, link.Conn, s, s.ctl, s.log)
	if err != nil {
		s.ctl.Close()
		return nil, fmt.Errorf("signal: %w", err)
	}
	return s, nil
}

// apps is the registry as sessions see it; a nil registry stays a nil interface, so that sessions
// accept any appKey.
func (s *Server) apps() session.Apps {
	if s.cfg.Apps == nil {
		return nil
	}
	return s.cfg.Apps
}

// RESTBackend answers the management REST API for the whole cluster (signal/restapi.Backend).
func (s *Server) RESTBackend() *cluster.Backend {
	return cluster.NewBackend(s.rest, s.cfg.Apps, s.ctl)
}

// sip is the SIP agent as sessions see it: a nil agent stays a nil interface.
func (s *Server) sip() session.SIP {
	if s.cfg.SIP == nil {
		return nil
	}
	return s.cfg.SIP
}

// NodeID is the node's id, as hooks and the REST API name it (nodeId).
func (s *Server) NodeID() string { return s.cfg.NodeID }

// Sessions is the number of open WS sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// route hands a media event to the session owning it (on the NATS delivery goroutine).
func (s *Server) route(ev control.MediaEvent) {
	s.mu.Lock()
	c := s.clients[ev.SessionID]
	s.mu.Unlock()
	if c == nil {
		s.log.Debug().Str("sessionId", ev.SessionID).Str("mediaSessionId", ev.MediaSessionID).
			Str("kind", ev.Kind).Msg("media event for no session")
		return
	}
	c.sess.Event(ev)
}

// nodeDown tells every session that a media daemon is gone.
func (s *Server) nodeDown(node string) {
	info := s.ctl.DownInfo(node)
	for _, c := range s.snapshot() {
		c.sess.NodeDown(node, info)
	}
}

// controlPlaneLost ends every session's media: the control plane has been gone for longer than
// the grace (README "Control plane faults"). The WebSockets stay open.
func (s *Server) controlPlaneLost() {
	for _, c := range s.snapshot() {
		c.sess.ControlPlaneLost()
	}
}

// Ready reports whether the node can take new streams (the /ready endpoint): control plane
// reachable, directory usable, a media daemon alive, and not shutting down.
func (s *Server) Ready() error {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return errors.New("shutting down")
	}
	return s.ctl.Ready()
}

// ServeHTTP is the WCS WebSocket endpoint, on any path (docs/protocol.md §1). It returns when the
// connection and its session have ended.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ip := clientIP(r)
	if !s.admit(w, r, ip) {
		return
	}
	defer s.adm.leave(ip)

	ws, err := wsconn.Accept(w, r, s.cfg.AllowedOrigins)
	if err != nil {
		s.log.Debug().Err(err).Str("remote", r.RemoteAddr).Str("origin", r.Header.Get("Origin")).Msg("upgrade refused")
		return
	}
	id := uuid.NewString()
	log := s.log.With().Str("sessionId", id).Logger()
	rt := &router{}
	conn := wsconn.New(ws, wsconn.Config{MaxFrameBytes: s.cfg.MaxFrameBytes, PingInterval: s.cfg.PingInterval,
		MissedPongs: s.cfg.MissedPongs}, s.m, log)
	sess := session.New(session.Config{NodeID: s.cfg.NodeID, NodeStarted: s.ctl.Started(), Draining: &s.draining, SessionID: id, MediaTimeout: s.cfg.MediaTimeout,
		Origin: r.Header.Get("Origin"), Hooks: s.cfg.Hooks, Apps: s.apps(), KeepAliveInterval: s.cfg.HookKeepAlive, PreferMediad: s.cfg.PreferMediad,
		MaxFrameBytes: s.cfg.MaxFrameBytes, ConnectionDeadline: s.cfg.ConnectionDeadline,
		KeepAliveGrace: s.cfg.KeepAliveGrace, SIP: s.sip(), Reattach: func(token string, raw map[string]json.RawMessage) bool {
			return s.reattach(token, raw, id, conn, rt)
		}}, s.ctl, conn, s.m, s.log)
	rt.cur.Store(sess)
	s.m.Connections.Inc()
	s.m.ConnectionsOpened.Inc()
	defer s.m.Connections.Dec()
	defer func() { s.m.Closed(conn.EndReason()) }()
	log.Info().Str("remote", r.RemoteAddr).Str("origin", r.Header.Get("Origin")).Msg("client connected")

	// The session's goroutine is the server's, not this request's: a keepAlive session outlives
	// its socket (docs/protocol.md §H.8).
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		sess.Run()
		// After a shutdown teardown the terminal statuses are queued: flush them, then close
		// the connection the session has now (none when detached or handed over).
		if c := s.unregister(id); c != nil && c.conn != nil {
			c.conn.Close(websocket.StatusGoingAway, wsconn.ReasonShutdown)
			if t, ok := c.conn.(*ownerTunnel); ok {
				t.release()
			}
		}
	}()
	s.register(id, &client{conn: conn, sess: sess})
	conn.Run(rt)
	if t := rt.tun.Load(); t != nil { // re-attached to a session of another node
		s.endTunnel(t, conn.ClosedByPeer())
		<-sess.Done()
		log.Info().Str("owner", t.owner).Msg("client disconnected from a session of another signal node")
		return
	}
	target := rt.cur.Load() // this socket's session, or the one it re-attached
	// A socket lost, not closed by its page, leaves a keepAlive session waiting for a re-attach.
	if !conn.ClosedByPeer() && target.Detach(conn) {
		s.clearConn(target.ID(), conn)
		log.Info().Str("target", target.ID()).Msg("client socket gone, keepAlive session kept")
		return
	}
	target.DisconnectFrom(conn)
	<-target.Done()
	<-sess.Done()
	log.Info().Msg("client disconnected")
}

// router hands a socket's frames to the session that serves it: the one made for it, the
// detached keepAlive session it re-attached, or the tunnel to such a session on another node
// (swapped on the first session's goroutine, before the connection's next frame is read).
type router struct {
	cur atomic.Pointer[session.Session]
	tun atomic.Pointer[edgeTunnel]
}

func (r *router) Frame(b []byte) {
	if t := r.tun.Load(); t != nil {
		t.Frame(b)
		return
	}
	r.cur.Load().Frame(b)
}

func (r *router) FrameTooLarge(f wsconn.TooLarge) {
	if t := r.tun.Load(); t != nil {
		t.FrameTooLarge(f)
		return
	}
	r.cur.Load().FrameTooLarge(f)
}

// reattach gives conn, whose session fresh has just received a connection carrying token, to the
// detached keepAlive session of that token, on this node or through a tunnel to another
// (docs/protocol.md §H.8). A token of no session waiting is a new session: false.
func (s *Server) reattach(token string, raw map[string]json.RawMessage, fresh string, conn *wsconn.Conn, rt *router) bool {
	old := s.client(token)
	if old == nil {
		if !s.reattachRemote(token, raw, conn, rt) {
			return false
		}
		s.setConn(fresh, nil)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if !old.sess.Attach(ctx, conn, raw) {
		// Not waiting (its socket is still up, say): a new session, not asked elsewhere.
		return false
	}
	rt.cur.Store(old.sess)
	s.setConn(token, conn)
	s.setConn(fresh, nil)
	return true
}

// setConn records which connection a session sends to (nil: none, detached or handed over). A
// tunnel replaced is released.
func (s *Server) setConn(id string, to conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	if c == nil {
		return
	}
	if t, ok := c.conn.(*ownerTunnel); ok && c.conn != to {
		t.release()
	}
	c.conn = to
}

// clearConn records that session id has no connection, if it still sends to from.
func (s *Server) clearConn(id string, from conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[id]; c != nil && c.conn == from {
		c.conn = nil
	}
}

// hasConn reports whether session id sends to to now.
func (s *Server) hasConn(id string, to conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	return c != nil && c.conn == to
}

func (c *client) stopOffer() {
	if c.offer != nil {
		_ = c.offer.Unsubscribe()
		c.offer = nil
	}
}

func (s *Server) register(id string, c *client) {
	s.mu.Lock()
	s.clients[id] = c
	s.offerLocked(id, c)
	closing := s.closing
	s.mu.Unlock()
	if closing { // Shutdown began between the accept and now
		c.sess.Shutdown()
	}
}

// unregister forgets a session and returns its entry.
func (s *Server) unregister(id string) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	delete(s.clients, id)
	if c != nil {
		c.stopOffer()
	}
	return c
}

func (s *Server) snapshot() []*client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	return out
}

// Shutdown ends every session: clients get the terminal status of each media session, sockets
// close with StatusGoingAway, media is stopped and names released; then the node leaves the
// directory. If ctx ends first, remaining sockets are closed at once and ctx's error returned once
// every goroutine has finished.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		// Every session ignores media state events from now on, before any of them stops its
		// media: a publisher's stop would otherwise reach another session's player as FAILED
		// "Stopped by publisher stop" first, and which status a player gets would be a race.
		s.draining.Store(true)
		for _, c := range s.snapshot() {
			c.sess.Shutdown()
		}
		// Sockets here tunnelled to other nodes' sessions: closed as lost, so that their
		// sessions wait for the pages to come back through another node.
		for _, t := range s.edgeTunnels() {
			t.conn.Close(websocket.StatusGoingAway, wsconn.ReasonShutdown)
		}
		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
			for _, c := range s.snapshot() {
				if c.conn != nil {
					c.conn.Abort()
				}
			}
			for _, t := range s.edgeTunnels() {
				t.conn.Abort()
			}
			<-done
		}
		s.rest.Close()
		s.ctl.Close()
		s.log.Info().Msg("signal server stopped")
	})
	return err
}

func (s *Server) edgeTunnels() []*edgeTunnel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*edgeTunnel, 0, len(s.tunnels))
	for t := range s.tunnels {
		out = append(out, t)
	}
	return out
}
