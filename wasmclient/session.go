package wasmclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/wcs"
)

// Session statuses on the client side (docs/protocol.md §D.1).
const (
	SessionPending      = "PENDING"
	SessionConnected    = "CONNECTED"
	SessionEstablished  = wcs.SessionEstablished
	SessionDisconnected = wcs.SessionDisconnected
	SessionFailed       = wcs.SessionFailed
	// SessionReconnecting is Potok's own: the socket was lost and a SessionOptions.Reconnect
	// session dials again to re-attach (reconnect.go).
	SessionReconnecting = "RECONNECTING"
)

// socket is the signalling WebSocket: coder/websocket natively (dial.go), the browser's own in
// the js build (dial_js.go).
type socket interface {
	// read returns the next text frame; errNormalClosure after a normal closure (1000).
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, frame []byte) error
	close() error    // a normal close; waits for the server's close frame
	closeNow() error // no close handshake (natively a cut, as a network cut)
}

// errNormalClosure is what socket.read returns after a normal closure (1000) by either side.
var errNormalClosure = errors.New("wasmclient: websocket closed normally")

// maxFails bounds the list of unrouted fail messages a session keeps.
const maxFails = 64

// Session is one WCS WebSocket connection. Its read loop owns dispatching; the stream map and
// the status are guarded by mu. Every goroutine it starts is waited for by Close.
type Session struct {
	opts     SessionOptions
	log      zerolog.Logger
	url      string
	conn     socket // replaced by a re-attach (reconnect.go): read it with sock()
	loopback bool   // ICE restricted to loopback

	ctx    context.Context // session lifetime, cancelled by Close
	cancel context.CancelFunc
	group  group
	done   chan struct{}

	established chan struct{}
	closeOnce   sync.Once

	mu         sync.Mutex
	status     string
	closing    bool
	authToken  string
	userData   map[string]json.RawMessage
	version    string
	rejected   *wcs.Fail
	fails      []wcs.Fail
	streams    map[string]*Stream
	dataWaits  map[string]chan wcs.DataStatus      // SendData by operationId
	availWaits map[string]chan wcs.AvailableStream // AvailableStream by its mediaSessionId
	data       []DataEvent
	dropped    bool // DropSocket: the socket was cut on purpose, the streams go on
	timeline   SessionTimeline
	err        error
	retryUntil time.Time // while reconnecting: when to give up
}

// Connect dials url, sends `connection` and waits for getUserData (docs/protocol.md §E.1). ctx bounds
// only the handshake; the session lives until Close or until the server closes the socket.
func Connect(ctx context.Context, rawURL string, opts SessionOptions) (*Session, error) {
	opts.defaults()
	s := &Session{
		opts: opts, log: zerolog.Nop(), url: rawURL, done: make(chan struct{}), established: make(chan struct{}),
		status: SessionPending, streams: map[string]*Stream{},
	}
	if opts.Logger != nil {
		s.log = opts.Logger.With().Str("component", "wasmclient").Logger()
	}
	s.timeline.ConnectStart = time.Now()
	loop, err := loopbackURL(rawURL, opts.Network)
	if err != nil {
		return nil, err
	}
	s.loopback = loop
	conn, err := dial(ctx, rawURL, opts)
	if err != nil {
		return nil, fmt.Errorf("wasmclient: dial %s: %w", rawURL, err)
	}
	s.conn = conn
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.setStatus(SessionConnected, func() { s.timeline.SocketOpen = time.Now() })
	s.group.Go(s.readLoop)
	if err := s.send(ctx, wcs.MsgConnection, s.connectionObject()); err != nil {
		_ = s.Close()
		return nil, err
	}
	select {
	case <-s.established:
		return s, nil
	case <-s.done:
		err := s.Err()
		_ = s.Close()
		return nil, err
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("wasmclient: waiting for getUserData: %w", ctx.Err())
	}
}

// loopbackURL decides the ICE network from the WebSocket host (see NetworkAuto).
func loopbackURL(rawURL string, n Network) (bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return false, fmt.Errorf("%w: url %q is not ws:// or wss://", ErrBadOptions, rawURL)
	}
	switch n {
	case NetworkLoopback:
		return true, nil
	case NetworkAll:
		return false, nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// connectionObject is what the WebSDK's createSession sends on open (docs/protocol.md §B.1).
func (s *Session) connectionObject() map[string]any {
	o := map[string]any{}
	maps.Copy(o, s.opts.Extra)
	o["appKey"] = s.opts.AppKey
	o["mediaProviders"] = []string{"WebRTC"}
	o["clientVersion"] = "2.0"
	o["clientOSVersion"] = s.opts.ClientOSVersion
	o["clientBrowserVersion"] = s.opts.ClientBrowserVersion
	o["msePacketizationVersion"] = 2
	if s.opts.Custom != nil {
		o["custom"] = s.opts.Custom
	}
	if s.opts.Reconnect {
		o["keepAlive"] = true
		if token := s.AuthToken(); token != "" { // a re-attach (docs/protocol.md §H.8)
			o["authToken"] = token
		}
	}
	return o
}

// send writes {"message": msg, "data": [arg]} — the WebSDK always sends exactly one argument,
// null when there is none (docs/protocol.md §A.1).
func (s *Session) send(ctx context.Context, msg string, arg any) error {
	frame, err := wcs.Encode(msg, arg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	if err := s.sock().write(ctx, frame); err != nil {
		return fmt.Errorf("wasmclient: send %s: %w", msg, err)
	}
	return nil
}

func (s *Session) readLoop() {
	defer s.lost()
	for {
		err := s.readFrames(s.sock())
		if s.reconnect(err) {
			continue
		}
		s.mu.Lock()
		if !s.closing && !errors.Is(err, errNormalClosure) {
			s.err = fmt.Errorf("wasmclient: connection lost: %w", err)
		}
		s.mu.Unlock()
		return
	}
}

func (s *Session) sock() socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// readFrames dispatches conn's frames until its read fails.
func (s *Session) readFrames(conn socket) error {
	for {
		frame, err := conn.read(s.ctx)
		if err != nil {
			return err
		}
		env, err := wcs.Decode(frame, wcs.MaxFrameBytes)
		if err != nil {
			s.log.Warn().Err(err).Msg("undecodable frame ignored")
			continue
		}
		s.dispatch(env)
	}
}

// lost runs when the read loop ends: like the WebSDK, every stream of the session becomes FAILED
// locally (docs/protocol.md §H.4) and the session DISCONNECTED (or FAILED on an error).
func (s *Session) lost() {
	s.mu.Lock()
	status := SessionDisconnected
	if s.err != nil {
		status = SessionFailed
	}
	if s.err == nil && s.rejected != nil {
		s.err = fmt.Errorf("%w: %s", ErrRejected, s.rejected.Info)
	}
	if s.err == nil && s.status != SessionEstablished {
		s.err = ErrNotEstablished
	}
	s.status = status
	s.timeline.Closed = time.Now()
	why := s.err
	streams := make([]*Stream, 0, len(s.streams))
	if !s.dropped {
		for _, st := range s.streams {
			streams = append(streams, st)
		}
		s.streams = map[string]*Stream{}
	}
	s.mu.Unlock()
	for _, st := range streams {
		st.localEnd(wcs.StatusFailed, "Session closed")
	}
	close(s.done)
	s.notify(status, why)
}

func (s *Session) setStatus(status string, also func()) {
	s.mu.Lock()
	s.status = status
	if also != nil {
		also()
	}
	s.mu.Unlock()
}

// Close ends the session: a normal WebSocket close, then every stream's peer connection is closed
// and all goroutines are waited for. It is safe to call more than once.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		closed := make(chan struct{})
		go func() {
			// A normal close waits for the server's close frame; bound it so a dead server
			// cannot hold Close.
			_ = s.sock().close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
		}
		s.cancel()
		<-closed
		// The streams a DropSocket left running (the socket loss ended the others).
		s.mu.Lock()
		left := make([]*Stream, 0, len(s.streams))
		for _, st := range s.streams {
			left = append(left, st)
		}
		s.streams = map[string]*Stream{}
		s.mu.Unlock()
		for _, st := range left {
			st.closePeer()
		}
		s.group.Wait()
	})
	return nil
}

// Disconnect is Close, named as in the WebSDK.
func (s *Session) Disconnect() error { return s.Close() }

// Done is closed when the session has ended (closed by either side).
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended: nil after a normal close.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	return s.err
}

// Status is the client-side session status (§D.1).
func (s *Session) Status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// AuthToken is getUserData.authToken.
func (s *Session) AuthToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authToken
}

// UserData is the getUserData object as received (the server's echo of connection, §C.1).
func (s *Session) UserData() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.userData)
}

// ServerVersion is what getVersion reported, "" if it did not arrive.
func (s *Session) ServerVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Fails returns the fail messages that were not routed to a stream (the WebSDK's WARN events).
func (s *Session) Fails() []wcs.Fail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wcs.Fail(nil), s.fails...)
}

// Timeline returns the session's connection timestamps.
func (s *Session) Timeline() SessionTimeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeline
}

func (s *Session) stream(id string) *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams[id]
}

// addStream registers a stream before its request is sent so no reply can race past it.
func (s *Session) addStream(st *Stream) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.status != SessionEstablished {
		return ErrClosed
	}
	s.streams[st.id] = st
	return nil
}

func (s *Session) removeStream(id string) {
	s.mu.Lock()
	delete(s.streams, id)
	s.mu.Unlock()
}

// group runs goroutines that Close waits for; after Wait starts, Go refuses new ones.
type group struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
}

// Go starts f unless the group is closing; it reports whether f was started.
func (g *group) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Wait stops new goroutines and waits for the running ones.
func (g *group) Wait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
