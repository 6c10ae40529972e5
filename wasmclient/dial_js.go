//go:build js

package wasmclient

import (
	"context"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/potok-media/potok/api/wcs"
)

// Header stands for the upgrade headers: the browser sets Origin itself and allows no others,
// so SessionOptions.Header is ignored here.
type Header = map[string][]string

// HTTPClient stands for the native upgrade client: the browser makes the upgrade itself (and
// trusts what the browser trusts), so SessionOptions.HTTPClient is ignored here.
type HTTPClient struct{}

// jsSocket is the browser's own WebSocket, driven through syscall/js: coder/websocket's js build
// would link net/http and crypto/tls into the wasm for its types (about 0.75 MB gzipped).
type jsSocket struct {
	ws    js.Value
	funcs []js.Func
	in    chan []byte   // text frames, in order
	done  chan struct{} // closed by onclose
	mu    sync.Mutex
	err   error // why it closed: errNormalClosure after a normal closure (1000)
}

// socketQueue is how many received frames wait for the read loop; the WebSocket cannot be
// paused, so a full queue closes it (1008) rather than grow without bound.
const socketQueue = 1024

// dial opens the browser's WebSocket and waits for it to open.
func dial(ctx context.Context, rawURL string, _ SessionOptions) (socket, error) {
	ws, err := newWebSocket(rawURL)
	if err != nil {
		return nil, err
	}
	s := &jsSocket{ws: ws, in: make(chan []byte, socketQueue), done: make(chan struct{})}
	opened := make(chan struct{})
	s.on("open", func(js.Value) { close(opened) })
	s.on("message", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			return // the server must not send binary on the signalling socket (§A.4)
		}
		frame := []byte(data.String())
		if len(frame) > wcs.MaxFrameBytes {
			s.fail(1009, fmt.Errorf("wasmclient: frame of %d bytes, limit %d", len(frame), wcs.MaxFrameBytes))
			return
		}
		select {
		case s.in <- frame:
		default:
			s.fail(1008, fmt.Errorf("wasmclient: %d frames unread", socketQueue))
		}
	})
	s.on("close", func(ev js.Value) {
		code := ev.Get("code").Int()
		s.mu.Lock()
		if s.err == nil {
			s.err = errNormalClosure
			if code != 1000 {
				s.err = fmt.Errorf("wasmclient: websocket closed: %d %s", code, ev.Get("reason").String())
			}
		}
		s.mu.Unlock()
		s.release()
		close(s.done)
	})
	select {
	case <-opened:
		return s, nil
	case <-s.done:
		return nil, s.closeErr()
	case <-ctx.Done():
		_ = s.closeNow()
		return nil, ctx.Err()
	}
}

func newWebSocket(rawURL string) (ws js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: new WebSocket(%q): %v", ErrBrowser, rawURL, r)
		}
	}()
	return js.Global().Get("WebSocket").New(rawURL), nil
}

func (s *jsSocket) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(arg0(args))
		return nil
	})
	s.funcs = append(s.funcs, fn)
	s.ws.Set("on"+event, fn)
}

// release drops the handlers once the socket is closed (from onclose, so none runs again).
func (s *jsSocket) release() {
	for _, ev := range []string{"open", "message", "close"} {
		s.ws.Set("on"+ev, js.Null())
	}
	for _, fn := range s.funcs {
		fn.Release()
	}
}

// fail closes the socket with code, recording err as the reason reads end.
func (s *jsSocket) fail(code int, err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.ws.Call("close", code, err.Error())
}

func (s *jsSocket) closeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *jsSocket) read(ctx context.Context) ([]byte, error) {
	select {
	case f := <-s.in:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		select { // frames that arrived before the close come first
		case f := <-s.in:
			return f, nil
		default:
			return nil, s.closeErr()
		}
	}
}

// write queues the frame; the browser sends it in order (bufferedAmount grows meanwhile).
func (s *jsSocket) write(_ context.Context, frame []byte) error {
	select {
	case <-s.done:
		return s.closeErr()
	default:
	}
	if _, err := call(s.ws, "send", string(frame)); err != nil {
		return err
	}
	return nil
}

// close sends a normal close frame and waits (bounded by Session.Close) for the close event.
func (s *jsSocket) close() error {
	s.ws.Call("close", 1000)
	<-s.done
	return nil
}

// closeNow closes without waiting; a browser always sends a close frame, it cannot cut a socket.
func (s *jsSocket) closeNow() error {
	s.ws.Call("close", 1000)
	return nil
}
