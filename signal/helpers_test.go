package signal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/testwait"
)

// waitFor bounds every wait for something the server must do; generous, because a loaded 2-core
// machine under -race is slow. It is never a measurement: quiet(d) is.
const waitFor = 20 * time.Second

// env is one running signal server on an embedded NATS.
type env struct {
	t    *testing.T
	emb  *bus.Embedded
	nc   *bus.Link
	srv  *signal.Server
	http *httptest.Server
	url  string
	reg  *prometheus.Registry
	base int // goroutines before the signal server started
	once sync.Once
}

// newEnv starts NATS, runs the before hooks, then a signal server; cleanup shuts everything down
// and checks that the signal server left no goroutine behind.
func newEnv(t *testing.T, cfg signal.Config, before ...func(*env)) *env {
	t.Helper()
	emb, err := bus.StartEmbedded(bus.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := emb.Connect("test")
	if err != nil {
		emb.Shutdown()
		t.Fatal(err)
	}
	e := &env{t: t, emb: emb, nc: nc, reg: prometheus.NewRegistry()}
	// Open the directory before counting: the buckets' goroutines belong to NATS, not to us.
	if _, err := bus.OpenDirectory(context.Background(), nc.Conn, bus.DirectoryConfig{}); err != nil {
		t.Fatal(err)
	}
	e.t = t
	for _, f := range before { // e.g. directory records the signal node must find at start
		f(e)
	}
	e.base = runtime.NumGoroutine()
	if cfg.NodeID == "" {
		cfg.NodeID = "signal-test"
	}
	cfg.Registerer = e.reg
	e.srv, err = signal.New(context.Background(), cfg, nc, logging.Test())
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv)
	e.url = "ws" + strings.TrimPrefix(e.http.URL, "http") + "/any/path"
	t.Cleanup(func() { e.stop(true) })
	return e
}

// stop shuts the server down; with checkLeaks it compares the goroutine count with the baseline.
func (e *env) stop(checkLeaks bool) {
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			e.t.Errorf("Shutdown: %v", err)
		}
		e.http.CloseClientConnections()
		e.http.Close()
		if checkLeaks {
			e.checkGoroutines()
		}
		e.nc.Close()
		e.emb.Shutdown()
	})
}

func (e *env) checkGoroutines() { testwait.Goroutines(e.t, e.base, 0, 10*time.Second) }

// client is a raw WCS WebSocket client: frames arrive on a channel, pings are answered unless
// silent is set.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan frame
	closed chan struct{}
	err    error // read error once closed
	mu     sync.Mutex
	silent bool
}

type frame struct {
	Message string            `json:"message"`
	Data    []json.RawMessage `json:"data"`
	raw     []byte
}

func (e *env) dial(t *testing.T) *client {
	t.Helper()
	return dialURL(t, e.url, nil)
}

func dialURL(t *testing.T, url string, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(-1)
	c := &client{t: t, ws: ws, frames: make(chan frame, 1024), closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() {
		_ = ws.CloseNow()
		<-c.closed
	})
	return c
}

func (c *client) readLoop() {
	defer close(c.closed)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		if typ != websocket.MessageText {
			c.err = fmt.Errorf("binary frame from server")
			return
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			c.err = fmt.Errorf("bad server frame %q: %w", b, err)
			return
		}
		f.raw = b
		if f.Message == wcs.MsgPing {
			c.mu.Lock()
			silent := c.silent
			c.mu.Unlock()
			if !silent {
				_ = c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"message":"pong","data":[null]}`))
			}
		}
		c.frames <- f
	}
}

// sendRaw writes one text frame.
func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes {message, data:[arg]} as the WebSDK does.
func (c *client) send(message string, arg any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"message": message, "data": []any{arg}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// next returns the next frame other than ping.
func (c *client) next() frame {
	c.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case f := <-c.frames:
			if f.Message == wcs.MsgPing {
				continue
			}
			return f
		case <-c.closed:
			// Frames read before the close are still queued: deliver them first.
			select {
			case f := <-c.frames:
				if f.Message == wcs.MsgPing {
					continue
				}
				return f
			default:
			}
			c.t.Fatalf("connection closed while waiting for a frame: %v", c.err)
		case <-timeout:
			c.t.Fatalf("no frame within %v", waitFor)
		}
	}
}

// expect returns the next non-ping frame and checks its name.
func (c *client) expect(message string) frame {
	c.t.Helper()
	f := c.next()
	if f.Message != message {
		c.t.Fatalf("got %s %s, want %s", f.Message, f.raw, message)
	}
	return f
}

// pings waits until n new server pings have arrived (answered unless silent), after those already
// queued, and fails on any other frame.
func (c *client) pings(n int) {
	c.t.Helper()
	for queued := len(c.frames); queued > 0; queued-- {
		if f := <-c.frames; f.Message != wcs.MsgPing {
			c.t.Fatalf("unexpected frame %s while waiting for pings", f.raw)
		}
	}
	timeout := time.After(waitFor)
	for n > 0 {
		select {
		case f := <-c.frames:
			if f.Message != wcs.MsgPing {
				c.t.Fatalf("unexpected frame %s while waiting for pings", f.raw)
			}
			n--
		case <-c.closed:
			c.t.Fatalf("connection closed while waiting for %d more pings: %v", n, c.err)
		case <-timeout:
			c.t.Fatalf("%d pings missing after %v", n, waitFor)
		}
	}
}

// quiet asserts that no frame other than ping arrives for d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case f := <-c.frames:
			if f.Message != wcs.MsgPing {
				c.t.Fatalf("unexpected frame %s", f.raw)
			}
		case <-timeout:
			return
		}
	}
}

// arg decodes data[i] of f.
func (f frame) arg(t *testing.T, i int, v any) {
	t.Helper()
	if i >= len(f.Data) {
		t.Fatalf("%s has no data[%d]: %s", f.Message, i, f.raw)
	}
	if err := json.Unmarshal(f.Data[i], v); err != nil {
		t.Fatalf("%s data[%d]: %v", f.Message, i, err)
	}
}

// connect establishes the WCS session and returns getUserData's object.
func (c *client) connect(extra map[string]any) map[string]any {
	c.t.Helper()
	obj := map[string]any{
		"appKey": "defaultApp", "mediaProviders": []string{"WebRTC", "MSE", "WSPlayer"},
		"clientVersion": "2.0", "clientOSVersion": "5.0", "clientBrowserVersion": "test",
		"msePacketizationVersion": 2,
	}
	for k, v := range extra {
		obj[k] = v
	}
	c.send(wcs.MsgConnection, obj)
	var ud map[string]any
	c.expect(wcs.MsgGetUserData).arg(c.t, 0, &ud)
	c.expect(wcs.MsgGetVersion)
	return ud
}

// streamStatus waits for the next notifyStreamStatusEvent and returns its object.
func (c *client) streamStatus() wcs.Stream {
	c.t.Helper()
	var st wcs.Stream
	c.expect(wcs.MsgNotifyStreamStatusEvent).arg(c.t, 0, &st)
	return st
}

// fail waits for the next fail frame.
func (c *client) fail() wcs.Fail {
	c.t.Helper()
	var f wcs.Fail
	c.expect(wcs.MsgFail).arg(c.t, 0, &f)
	return f
}

// waitClosed waits until the server closed the connection and returns the close status.
func (c *client) waitClosed(d time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.closed:
		return websocket.CloseStatus(c.err)
	case <-time.After(d):
		c.t.Fatalf("connection still open after %v", d)
		return 0
	}
}

func eventually(t *testing.T, what string, cond func() bool) { testwait.Until(t, waitFor, what, cond) }

func publishReq(id, name string) map[string]any {
	return map[string]any{"mediaSessionId": id, "name": name, "published": true, "hasVideo": true,
		"hasAudio": true, "status": "PENDING", "record": false, "mediaProvider": "WebRTC",
		"sdp": "v=0\r\n", "bitrate": 0, "minBitrate": 0, "maxBitrate": 0}
}

func playReq(id, name string) map[string]any {
	return map[string]any{"mediaSessionId": id, "name": name, "published": false, "hasVideo": true,
		"hasAudio": true, "status": "PENDING", "record": false, "mediaProvider": "WebRTC",
		"sdp": "v=0\r\n", "width": 0, "height": 0, "bitrate": 0, "quality": 0}
}
