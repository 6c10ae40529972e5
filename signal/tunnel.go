package signal

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/signal/wsconn"
)

// A keepAlive session re-attached through another signal node (docs/protocol.md §H.8). The
// session stays on the node that made it (its owner): its media sessions, claims and hooks are
// that node's. The node holding the new socket (the edge) carries its frames both ways over
// NATS (api/control TunnelSubject), so the owner sees a socket like any other:
//
//	page ⇄ edge: wsconn.Conn ⇄ edgeTunnel ⇄ NATS ⇄ ownerTunnel (the session's Outbox) ⇄ Session
//
// Either end may go: the owner tells the edge to close the socket when the session ends; the
// edge tells the owner when the socket is lost or closed by its page (the session then waits
// again, or ends, as after a local socket); a signal node that dies is seen by the other end in
// the directory (mediactl OnSignalDown) and treated the same way.

// reattachWait bounds the edge's question to the owner; no owner answers at once (NATS's no
// responders), so this only matters for an owner that is slow or just died.
const reattachWait = 3 * time.Second

// tokenRE is what an authToken must look like to be asked for on the control plane (a session
// id, a subject token): anything else is nobody's session.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// conn is where a session's frames go: a socket on this node, or a tunnel to the socket on
// another node.
type conn interface {
	session.Outbox
	Abort() // close at once, without flushing (forced shutdown)
}

// ---- owner side ----

// offerLocked makes session id reachable from other signal nodes until it ends: a re-attach
// through another node is answered by Session.Attach, which takes only a keepAlive session.
// Called with s.mu held.
func (s *Server) offerLocked(id string, c *client) {
	if c.offer != nil {
		return
	}
	sub, err := s.nc.Subscribe(control.ReattachSubject(id), func(m *nats.Msg) { s.serveReattach(id, m) })
	if err != nil {
		s.log.Warn().Err(err).Str("sessionId", id).Msg("keepAlive session not reachable from other signal nodes")
		return
	}
	c.offer = sub
}

// serveReattach answers another node's ReattachRequest for the detached session id.
func (s *Server) serveReattach(id string, m *nats.Msg) {
	var req control.ReattachRequest
	reply := control.ReattachReply{Node: s.cfg.NodeID}
	c := s.client(id)
	if err := json.Unmarshal(m.Data, &req); err != nil || c == nil || !tokenRE.MatchString(req.Tunnel) {
		s.respond(m, reply)
		return
	}
	t, err := s.openOwnerTunnel(id, c.sess, req)
	if err != nil {
		s.log.Warn().Err(err).Str("sessionId", id).Msg("re-attach tunnel not opened")
		s.respond(m, reply)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), reattachWait)
	defer cancel()
	if !c.sess.Attach(ctx, t, req.Fields) {
		t.release()
		s.respond(m, reply)
		return
	}
	s.setConn(id, t)
	reply.OK = true
	s.respond(m, reply)
	s.log.Info().Str("sessionId", id).Str("via", req.Node).Msg("keepAlive session re-attached through another signal node")
}

func (s *Server) respond(m *nats.Msg, r control.ReattachReply) {
	b, _ := json.Marshal(r)
	if err := m.Respond(b); err != nil {
		s.log.Debug().Err(err).Msg("re-attach answer not sent")
	}
}

// ownerTunnel is a session's Outbox when its socket is on another node: frames go down the
// tunnel, frames come up from it.
type ownerTunnel struct {
	nc   *nats.Conn
	edge string // the edge signal node
	down string
	sub  *nats.Subscription
	once sync.Once
}

func (s *Server) openOwnerTunnel(id string, sess *session.Session, req control.ReattachRequest) (*ownerTunnel, error) {
	t := &ownerTunnel{nc: s.nc, edge: req.Node, down: control.TunnelSubject(req.Tunnel, control.TunnelDown)}
	sub, err := s.nc.Subscribe(control.TunnelSubject(req.Tunnel, control.TunnelUp), func(m *nats.Msg) {
		s.fromEdge(id, sess, t, m)
	})
	if err != nil {
		return nil, err
	}
	t.sub = sub
	return t, nil
}

// fromEdge is one message up the tunnel: a client frame, or the news of the socket's end.
func (s *Server) fromEdge(id string, sess *session.Session, t *ownerTunnel, m *nats.Msg) {
	switch m.Header.Get(control.TunnelHeader) {
	case "":
		sess.Frame(m.Data)
	case control.TunnelTooLarge:
		var f wsconn.TooLarge
		if json.Unmarshal(m.Data, &f) == nil {
			sess.FrameTooLarge(f)
		}
	case control.TunnelLost:
		s.socketGone(id, sess, t, false)
	case control.TunnelClosed:
		s.socketGone(id, sess, t, true)
	}
}

// socketGone is the end of a tunnelled socket, as ServeHTTP handles the end of a local one: a
// lost socket leaves a keepAlive session waiting again, a closed one ends it.
func (s *Server) socketGone(id string, sess *session.Session, t *ownerTunnel, closedByPeer bool) {
	if !s.hasConn(id, t) { // the session has another socket already, or has ended
		t.release()
		return
	}
	if !closedByPeer && sess.Detach(t) {
		s.clearConn(id, t)
		s.log.Info().Str("sessionId", id).Str("via", t.edge).Msg("tunnelled socket gone, keepAlive session kept")
		return
	}
	t.release()
	sess.DisconnectFrom(t)
}

// Send carries a frame to the edge's socket.
func (t *ownerTunnel) Send(frame []byte) bool {
	return t.nc.Publish(t.down, frame) == nil
}

// Close tells the edge to close the socket (after the frames sent before: NATS keeps their order).
func (t *ownerTunnel) Close(code websocket.StatusCode, reason string) {
	m := nats.NewMsg(t.down)
	m.Header.Set(control.TunnelHeader, control.TunnelClose)
	m.Header.Set(control.TunnelCodeHeader, strconv.Itoa(int(code)))
	m.Header.Set(control.TunnelReasonHeader, reason)
	_ = t.nc.PublishMsg(m)
}

func (t *ownerTunnel) Abort() { t.Close(websocket.StatusGoingAway, wsconn.ReasonShutdown) }

// release stops listening to the edge.
func (t *ownerTunnel) release() {
	t.once.Do(func() { _ = t.sub.Unsubscribe() })
}

// ---- edge side ----

// edgeTunnel carries a local socket's frames to a session on another node.
type edgeTunnel struct {
	nc    *nats.Conn
	owner string // the session's signal node
	up    string
	sub   *nats.Subscription
	conn  *wsconn.Conn
}

// reattachRemote asks the cluster for the detached session token on behalf of conn (whose own
// session received the connection). True: the owner took the socket and rt now carries its
// frames there.
func (s *Server) reattachRemote(token string, raw map[string]json.RawMessage, conn *wsconn.Conn, rt *router) bool {
	if !tokenRE.MatchString(token) {
		return false
	}
	id := uuid.NewString()
	t := &edgeTunnel{nc: s.nc, up: control.TunnelSubject(id, control.TunnelUp), conn: conn}
	// Listen before asking: the owner sends getUserData as it attaches, before it answers.
	sub, err := s.nc.Subscribe(control.TunnelSubject(id, control.TunnelDown), t.fromOwner)
	if err != nil {
		s.log.Warn().Err(err).Msg("re-attach tunnel not opened")
		return false
	}
	t.sub = sub
	req, _ := json.Marshal(control.ReattachRequest{Node: s.cfg.NodeID, Tunnel: id, Fields: raw})
	m, err := s.nc.Request(control.ReattachSubject(token), req, reattachWait)
	var reply control.ReattachReply
	if err == nil {
		err = json.Unmarshal(m.Data, &reply)
	}
	if err != nil || !reply.OK {
		_ = sub.Unsubscribe()
		if err != nil && !errors.Is(err, nats.ErrNoResponders) {
			s.log.Warn().Err(err).Str("authToken", token).Msg("re-attach through another signal node failed")
		}
		return false
	}
	t.owner = reply.Node
	s.mu.Lock()
	s.tunnels[t] = struct{}{}
	s.mu.Unlock()
	rt.tun.Store(t)
	s.log.Info().Str("authToken", token).Str("owner", t.owner).Msg("socket re-attached to a session on another signal node")
	return true
}

// fromOwner is one message down the tunnel: a frame for the socket, or the order to close it.
func (t *edgeTunnel) fromOwner(m *nats.Msg) {
	if m.Header.Get(control.TunnelHeader) != control.TunnelClose {
		t.conn.Send(m.Data)
		return
	}
	code, err := strconv.Atoi(m.Header.Get(control.TunnelCodeHeader))
	if err != nil {
		code = int(websocket.StatusNormalClosure)
	}
	t.conn.Close(websocket.StatusCode(code), m.Header.Get(control.TunnelReasonHeader))
}

// Frame and FrameTooLarge carry the socket's frames up (router).
func (t *edgeTunnel) Frame(b []byte) { _ = t.nc.Publish(t.up, b) }

func (t *edgeTunnel) FrameTooLarge(f wsconn.TooLarge) {
	b, _ := json.Marshal(f)
	t.signal(control.TunnelTooLarge, b)
}

func (t *edgeTunnel) signal(what string, body []byte) {
	m := nats.NewMsg(t.up)
	m.Header.Set(control.TunnelHeader, what)
	m.Data = body
	_ = t.nc.PublishMsg(m)
}

// end tells the owner how the socket ended and stops listening.
func (s *Server) endTunnel(t *edgeTunnel, closedByPeer bool) {
	what := control.TunnelLost
	if closedByPeer {
		what = control.TunnelClosed
	}
	t.signal(what, nil)
	_ = t.sub.Unsubscribe()
	s.mu.Lock()
	delete(s.tunnels, t)
	s.mu.Unlock()
}

// signalDown handles another signal node's death: sessions of this node whose socket was
// tunnelled through it wait again (their socket is gone with it), and sockets here tunnelled to
// its sessions are closed (their session is gone; the page connects again).
func (s *Server) signalDown(node string) {
	type lostSocket struct {
		c *client
		t *ownerTunnel
	}
	s.mu.Lock()
	var lost []lostSocket
	for _, c := range s.clients {
		if t, ok := c.conn.(*ownerTunnel); ok && t.edge == node {
			lost = append(lost, lostSocket{c, t})
		}
	}
	var orphans []*edgeTunnel
	for t := range s.tunnels {
		if t.owner == node {
			orphans = append(orphans, t)
		}
	}
	s.mu.Unlock()
	for _, l := range lost {
		// Detach waits for the session: not on the directory's goroutine.
		go s.socketGone(l.c.sess.ID(), l.c.sess, l.t, false)
	}
	for _, t := range orphans {
		t.conn.Close(websocket.StatusGoingAway, "Signal node lost")
	}
}
