// Package wsconn is the transport of the WCS signalling WebSocket: one goroutine reads, one writes
// from a bounded queue, the server keep-alive (docs/protocol.md §A.6) and the frame size limits. It knows
// nothing of WCS semantics; frames go to a Handler.
package wsconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/metrics"
)

// Defaults of Config.
const (
	DefaultPingInterval = 5 * time.Second // WCS keep_alive.server_interval (docs/protocol.md §A.6)
	DefaultMissedPongs  = 10              // WCS keep_alive.probes
	DefaultQueueFrames  = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultDrainTimeout = 5 * time.Second
	hardLimitFactor     = 4
)

// Close reasons sent to clients (kept under the 123-byte limit of a close frame).
const (
	ReasonQueueFull   = "Send queue full: client too slow"
	ReasonPingTimeout = "Ping timeout"
	ReasonShutdown    = "Server shutdown"
	ReasonFrameTooBig = "Frame too large"
)

// pingFrame is the server keep-alive, data is [] (docs/protocol.md §C.3).
var pingFrame = []byte(`{"message":"ping","data":[]}`)

// Config tunes one connection. Zero values take the defaults.
type Config struct {
	MaxFrameBytes int           // frames above are refused but the connection stays (0 = wcs.MaxFrameBytes)
	HardLimit     int           // frames above are not read to their end: the connection closes (0 = 4 × MaxFrameBytes)
	PingInterval  time.Duration // 0 = 5 s
	MissedPongs   int           // intervals without any client frame before the client is gone (0 = 10)
	QueueFrames   int           // outgoing queue; a client whose queue is full is dropped (0 = 256)
	WriteTimeout  time.Duration // one frame write (0 = 10 s)
	// DrainTimeout bounds reading the rest of a frame above HardLimit before the close handshake;
	// a client still sending then loses the connection without one (0 = 5 s).
	DrainTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = wcs.MaxFrameBytes
	}
	if c.HardLimit <= 0 {
		c.HardLimit = hardLimitFactor * c.MaxFrameBytes
	}
	if c.HardLimit < c.MaxFrameBytes {
		c.HardLimit = c.MaxFrameBytes
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.MissedPongs <= 0 {
		c.MissedPongs = DefaultMissedPongs
	}
	if c.QueueFrames <= 0 {
		c.QueueFrames = DefaultQueueFrames
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return c
}

// Handler receives what the reader goroutine reads, in order.
type Handler interface {
	// Frame is one complete text frame within MaxFrameBytes. The slice is owned by the handler.
	Frame(b []byte)
	// FrameTooLarge reports a text frame above MaxFrameBytes, discarded but for its head. When
	// f.Closing is set the connection closes (1009) as soon as FrameTooLarge returns, after the
	// frames the handler sent until then.
	FrameTooLarge(f TooLarge)
}

// TooLarge is a text frame above MaxFrameBytes.
type TooLarge struct {
	Head  []byte // its first bytes, at most wcs.HeadBytes; owned by the handler
	Bytes int    // its size; with Closing, the bytes read before giving up (HardLimit + 1)
	Limit int    // MaxFrameBytes
	// Closing: the frame ran past HardLimit, so it was not read to its end and the connection closes.
	Closing bool
}

// closeReq is how a connection is to be closed.
type closeReq struct {
	code   websocket.StatusCode
	reason string
}

// Conn is one signalling WebSocket.
type Conn struct {
	ws      *websocket.Conn
	cfg     Config
	log     zerolog.Logger
	m       *metrics.Signal
	queue   chan []byte   // frames; a nil entry means "close now with closeWhy" (after the frames before it)
	kill    chan struct{} // closed to close now (queue overflow, forced shutdown)
	gone    chan struct{} // closed when the reader has ended: nothing more will be read
	killMu  sync.Mutex
	killed  bool
	killWhy closeReq
	closeBy closeReq      // set before the nil entry is queued
	written chan struct{} // closed when the writer has ended

	lastRead   atomic.Int64 // unix nanos of the last client frame (liveness)
	peerClosed atomic.Bool  // the client sent a close frame (ClosedByPeer)
	pingGone   atomic.Bool  // the keep-alive found the client silent (EndReason)
	endReason  string       // why the reader ended, set before gone is closed (EndReason)
	// sendMu orders Send against Close: a frame is either queued before the close marker (and
	// written) or refused, never queued behind it and silently lost.
	sendMu  sync.Mutex
	closing bool // a graceful close is queued; later frames are refused (guarded by sendMu)
}

// New wraps an accepted WebSocket. Call Run to start it.
func New(ws *websocket.Conn, cfg Config, m *metrics.Signal, log zerolog.Logger) *Conn {
	cfg = cfg.withDefaults()
	// readText enforces the limits itself, so that the client hears why before a close: it never
	// buffers more than MaxFrameBytes, and drops the rest of a frame above HardLimit within
	// DrainTimeout. The library's own limit would close the socket first.
	ws.SetReadLimit(-1)
	c := &Conn{
		ws: ws, cfg: cfg, log: log, m: m,
		queue:   make(chan []byte, cfg.QueueFrames),
		kill:    make(chan struct{}),
		gone:    make(chan struct{}),
		written: make(chan struct{}),
	}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// Run reads frames into h until the connection ends, while a second goroutine writes the queue and
// the keep-alive pings. It returns when both goroutines have exited and the socket is closed.
func (c *Conn) Run(h Handler) {
	go func() {
		defer close(c.written)
		c.writeLoop()
	}()
	c.readLoop(h)
	c.endReason = c.reasonNow()
	close(c.gone)
	<-c.written
}

// Send queues a frame without blocking. A full queue means the client does not read: it is
// dropped rather than allowed to hold anyone up. It reports whether the frame was queued.
func (c *Conn) Send(frame []byte) bool {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if frame == nil || c.closing {
		return false
	}
	select {
	case <-c.gone:
		return false
	case <-c.kill:
		return false
	default:
	}
	select {
	case c.queue <- frame:
		return true
	default:
		c.m.Error(metrics.ReasonQueueFull)
		c.log.Warn().Int("queued", len(c.queue)).Msg("send queue full, dropping client")
		c.Kill(websocket.StatusPolicyViolation, ReasonQueueFull)
		return false
	}
}

// Close closes the connection with code and reason after the frames already queued are written.
func (c *Conn) Close(code websocket.StatusCode, reason string) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	c.closeBy = closeReq{code: code, reason: reason}
	select {
	case c.queue <- nil:
	default:
		c.Kill(code, reason)
	}
}

// Kill closes the connection now, dropping queued frames.
func (c *Conn) Kill(code websocket.StatusCode, reason string) {
	c.killMu.Lock()
	defer c.killMu.Unlock()
	if c.killed {
		return
	}
	c.killed = true
	c.killWhy = closeReq{code: code, reason: reason}
	close(c.kill)
}

// Gone is closed once the reader has ended (the client is gone or the connection was closed).
func (c *Conn) Gone() <-chan struct{} { return c.gone }

// ClosedByPeer reports whether the client ended the connection with a close frame (a page that
// disconnects), rather than the socket being lost (a network cut): a keepAlive session outlives
// only the second (docs/protocol.md §H.8).
func (c *Conn) ClosedByPeer() bool { return c.peerClosed.Load() }

// EndReason says why the connection ended, as a metrics.Closed* label: what had happened when
// the reader stopped (a close of ours after that, as the session's teardown does, is not why).
// Before the end it says what would be the reason now.
func (c *Conn) EndReason() string {
	select {
	case <-c.gone:
		return c.endReason
	default:
		return c.reasonNow()
	}
}

func (c *Conn) reasonNow() string {
	if c.peerClosed.Load() {
		return metrics.ClosedByClient
	}
	if c.pingGone.Load() {
		return metrics.ClosedPingTimeout
	}
	c.sendMu.Lock()
	closing, by := c.closing, c.closeBy.reason
	c.sendMu.Unlock()
	c.killMu.Lock()
	killed, why := c.killed, c.killWhy.reason
	c.killMu.Unlock()
	switch {
	case closing:
		return closeLabel(by)
	case killed:
		return closeLabel(why)
	}
	return metrics.ClosedLost
}

// closeLabel maps a close reason of ours to its metrics label.
func closeLabel(reason string) string {
	switch reason {
	case ReasonQueueFull:
		return metrics.ClosedQueueFull
	case ReasonPingTimeout:
		return metrics.ClosedPingTimeout
	case ReasonShutdown:
		return metrics.ClosedShutdown
	case ReasonFrameTooBig:
		return metrics.ClosedTooLarge
	}
	return metrics.ClosedByServer
}

// closedByUs reports whether this side has begun closing the connection.
func (c *Conn) closedByUs() bool {
	c.sendMu.Lock()
	closing := c.closing
	c.sendMu.Unlock()
	c.killMu.Lock()
	defer c.killMu.Unlock()
	return closing || c.killed
}

func (c *Conn) readLoop(h Handler) {
	// Cancelling ctx during a read closes the socket (the library's read timeout): the only way to
	// stop a client that keeps sending one frame.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			// A close frame answering our own close is not the page's doing.
			if websocket.CloseStatus(err) != -1 && !c.closedByUs() {
				c.peerClosed.Store(true)
			}
			c.logReadEnd(err)
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		if typ != websocket.MessageText {
			// The WebSDK never sends binary on the signalling socket (docs/protocol.md §A.4).
			n, err := io.Copy(io.Discard, r)
			c.m.Error(metrics.ReasonBinaryFrame)
			c.log.Debug().Int64("bytes", n).Msg("binary frame ignored")
			if err != nil {
				c.logReadEnd(err)
				return
			}
			continue
		}
		err = c.readText(r, h)
		if errors.Is(err, errHardLimit) {
			c.closeAfterHardLimit(r, cancel)
			return
		}
		if err != nil {
			c.logReadEnd(err)
			return
		}
	}
}

// errHardLimit ends the reader after a frame above HardLimit.
var errHardLimit = errors.New("wsconn: frame above the hard limit")

// closeAfterHardLimit closes the connection with 1009 after a frame above HardLimit, once the
// handler's answer is written. The rest of the frame is read and dropped first, within DrainTimeout,
// because the close handshake would otherwise read it with no time limit.
func (c *Conn) closeAfterHardLimit(r io.Reader, cancelReads context.CancelFunc) {
	c.log.Warn().Int("hardLimit", c.cfg.HardLimit).Msg("frame above hard limit, closing the connection")
	stop := time.AfterFunc(c.cfg.DrainTimeout, cancelReads)
	n, err := io.Copy(io.Discard, r)
	stop.Stop()
	if err != nil {
		c.log.Info().Err(err).Int64("dropped", n).Msg("frame above hard limit not finished in time, connection dropped")
		return // the socket is closed; the writer ends once the reader is gone
	}
	c.Close(websocket.StatusMessageTooBig, ReasonFrameTooBig)
	<-c.written
}

// readText reads one text frame. A frame above MaxFrameBytes is reported with its head and drained
// (never buffered); one above HardLimit is reported and not read further (errHardLimit).
func (c *Conn) readText(r io.Reader, h Handler) error {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(c.cfg.MaxFrameBytes)+1))
	if err != nil {
		return err
	}
	if n <= int64(c.cfg.MaxFrameBytes) {
		h.Frame(buf.Bytes())
		return nil
	}
	head := bytes.Clone(buf.Bytes()[:min(buf.Len(), wcs.HeadBytes)]) // and the rest is not kept
	rest, err := io.Copy(io.Discard, io.LimitReader(r, int64(c.cfg.HardLimit)-n+1))
	if err != nil {
		c.m.Error(metrics.ReasonFrameTooLarge)
		return err
	}
	f := TooLarge{Head: head, Bytes: int(n + rest), Limit: c.cfg.MaxFrameBytes}
	f.Closing = f.Bytes > c.cfg.HardLimit
	h.FrameTooLarge(f)
	if f.Closing {
		return errHardLimit
	}
	return nil
}

func (c *Conn) logReadEnd(err error) {
	switch {
	case websocket.CloseStatus(err) != -1:
		c.log.Debug().Int("code", int(websocket.CloseStatus(err))).Msg("client closed the connection")
	default:
		c.log.Debug().Err(err).Msg("connection read ended")
	}
}

// writeLoop writes queued frames and the keep-alive until the connection ends.
func (c *Conn) writeLoop() {
	ticker := time.NewTicker(c.cfg.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case frame := <-c.queue:
			if frame == nil {
				c.closeWith(c.closeBy.code, c.closeBy.reason)
				return
			}
			if err := c.write(frame); err != nil {
				c.m.Error(metrics.ReasonWriteFailed)
				c.log.Info().Err(err).Msg("write failed, client gone")
				_ = c.ws.CloseNow()
				return
			}
		case <-ticker.C:
			if !c.keepAlive() {
				return
			}
		case <-c.kill:
			c.closeWith(c.killWhy.code, c.killWhy.reason)
			return
		case <-c.gone:
			_ = c.ws.CloseNow()
			return
		}
	}
}

// keepAlive sends the server ping, or declares the client gone after MissedPongs intervals without
// any frame from it (docs/protocol.md §A.6: any client frame counts as liveness).
func (c *Conn) keepAlive() bool {
	silent := time.Since(time.Unix(0, c.lastRead.Load()))
	if silent >= time.Duration(c.cfg.MissedPongs)*c.cfg.PingInterval {
		c.m.Error(metrics.ReasonPingTimeout)
		c.pingGone.Store(true)
		c.log.Info().Dur("silent", silent).Msg("no frame from client, disconnecting")
		// A silent client would not answer a close handshake either.
		_ = c.ws.CloseNow()
		return false
	}
	if err := c.write(pingFrame); err != nil {
		c.m.Error(metrics.ReasonWriteFailed)
		c.log.Info().Err(err).Msg("ping write failed, client gone")
		_ = c.ws.CloseNow()
		return false
	}
	return true
}

func (c *Conn) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("wsconn: write: %w", err)
	}
	c.m.Sent(frame)
	return nil
}

// closeWith runs the close handshake (bounded by the library at a few seconds) and then makes sure
// the socket is closed.
func (c *Conn) closeWith(code websocket.StatusCode, reason string) {
	if err := c.ws.Close(code, reason); err != nil {
		c.log.Debug().Err(err).Msg("close handshake")
	}
	_ = c.ws.CloseNow()
}

// Accept upgrades an HTTP request on any path. With no allowed origins every page may connect, as
// with WCS; otherwise only pages whose Origin host matches one of the patterns.
func Accept(w http.ResponseWriter, r *http.Request, allowedOrigins []string) (*websocket.Conn, error) {
	opts := &websocket.AcceptOptions{}
	if len(allowedOrigins) == 0 {
		opts.InsecureSkipVerify = true
	} else {
		opts.OriginPatterns = allowedOrigins
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return nil, fmt.Errorf("wsconn: accept: %w", err)
	}
	return ws, nil
}

// Abort closes the socket at once, without a close handshake (forced shutdown).
func (c *Conn) Abort() {
	c.Kill(websocket.StatusGoingAway, ReasonShutdown)
	_ = c.ws.CloseNow()
}
