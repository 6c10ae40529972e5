package wsconn_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/wsconn"
	"github.com/potok-media/potok/testkit/testwait"
)

// handler records what the reader delivers; answer, when set, runs in FrameTooLarge.
type handler struct {
	mu     sync.Mutex
	frames []string
	large  []wsconn.TooLarge
	answer func(wsconn.TooLarge)
}

func (h *handler) Frame(b []byte) {
	h.mu.Lock()
	h.frames = append(h.frames, string(b))
	h.mu.Unlock()
}

func (h *handler) FrameTooLarge(f wsconn.TooLarge) {
	h.mu.Lock()
	h.large = append(h.large, f)
	answer := h.answer
	h.mu.Unlock()
	if answer != nil {
		answer(f)
	}
}

func (h *handler) tooLarge() []wsconn.TooLarge {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]wsconn.TooLarge(nil), h.large...)
}

// serve runs one Conn per request and hands it to the test.
func serve(t *testing.T, cfg wsconn.Config, h wsconn.Handler) (url string, conns chan *wsconn.Conn, m *metrics.Signal) {
	t.Helper()
	m, _ = metrics.New(nil)
	conns = make(chan *wsconn.Conn, 1)
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsconn.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		c := wsconn.New(ws, cfg, m, zerolog.Nop())
		conns <- c
		c.Run(h)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http"), conns, m
}

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// A client that does not read is dropped with a clear close reason once its queue is full; the
// server never blocks on it.
func TestQueueFullDropsClient(t *testing.T) {
	url, conns, m := serve(t, wsconn.Config{QueueFrames: 4}, &handler{})
	ws := dial(t, url)
	c := <-conns
	big := []byte(`{"message":"x","data":["` + strings.Repeat("a", 1<<20) + `"]}`)
	// A Send that blocked would block for good (the client never reads): the loop runs aside and
	// the test bounds it, rather than timing it.
	sends := make(chan bool, 1)
	go func() {
		dropped := false
		for i := 0; i < 1000 && !dropped; i++ {
			dropped = !c.Send(big)
		}
		sends <- dropped
	}()
	select {
	case dropped := <-sends:
		if !dropped {
			t.Fatal("1000 frames of 1 MiB queued to a client that does not read")
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Send blocked on a client that does not read (no return in %v)", waitTimeout)
	}
	if c.Send([]byte(`{}`)) {
		t.Error("Send after the drop succeeded")
	}
	// Reading now drains what was written and ends with the close reason.
	for {
		_, _, err := ws.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !strings.Contains(err.Error(), wsconn.ReasonQueueFull) {
				t.Errorf("close: %v", err)
			}
			break
		}
	}
	select {
	case <-c.Gone():
	case <-time.After(waitTimeout):
		t.Error("connection not gone after the drop")
	}
	if n := testCounter(m, metrics.ReasonQueueFull); n != 1 {
		t.Errorf("queue_full errors = %v", n)
	}
}

// Close after Send delivers the queued frames, then the close status.
func TestCloseFlushes(t *testing.T) {
	url, conns, _ := serve(t, wsconn.Config{}, &handler{})
	ws := dial(t, url)
	c := <-conns
	for _, f := range []string{`{"message":"a","data":[]}`, `{"message":"b","data":[]}`} {
		if !c.Send([]byte(f)) {
			t.Fatal("Send failed")
		}
	}
	c.Close(websocket.StatusGoingAway, wsconn.ReasonShutdown)
	if c.Send([]byte(`{"message":"late","data":[]}`)) {
		t.Error("Send after Close queued")
	}
	var got []string
	for {
		_, b, err := ws.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Errorf("close: %v", err)
			}
			break
		}
		got = append(got, string(b))
	}
	if len(got) != 2 || !strings.Contains(got[0], `"a"`) || !strings.Contains(got[1], `"b"`) {
		t.Errorf("frames before close: %q", got)
	}
}

// Reads: frames within the limit are delivered in order, larger ones reported with their size,
// binary ones ignored; only above the hard limit is the connection closed.
func TestReadLimits(t *testing.T) {
	h := &handler{}
	url, conns, _ := serve(t, wsconn.Config{MaxFrameBytes: 100, HardLimit: 1000}, h)
	ws := dial(t, url)
	c := <-conns
	ctx := context.Background()
	write := func(typ websocket.MessageType, s string) {
		if err := ws.Write(ctx, typ, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(websocket.MessageText, "one")
	write(websocket.MessageText, strings.Repeat("x", 500))
	write(websocket.MessageBinary, "bin")
	write(websocket.MessageText, "two")
	testwait.UntilOK(t, waitTimeout, "2 frames delivered", func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if n := len(h.frames); n != 2 {
			return fmt.Errorf("%d delivered", n)
		}
		return nil
	})
	h.mu.Lock()
	if l := h.large; h.frames[0] != "one" || h.frames[1] != "two" || len(l) != 1 || l[0].Bytes != 500 ||
		l[0].Limit != 100 || l[0].Closing || string(l[0].Head) != strings.Repeat("x", 101) {
		t.Errorf("frames %q, large %+v", h.frames, h.large)
	}
	h.mu.Unlock()
	write(websocket.MessageText, strings.Repeat("y", 2000))
	_, _, err := ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig || !strings.Contains(err.Error(), wsconn.ReasonFrameTooBig) {
		t.Errorf("above hard limit: %v", err)
	}
	<-c.Gone()
	if l := h.tooLarge(); len(l) != 2 || !l[1].Closing || l[1].Bytes != 1001 || l[1].Limit != 100 {
		t.Errorf("above hard limit reported as %+v", l)
	}
}

// The head of an oversized frame is its first wcs.HeadBytes, whatever the limit.
func TestTooLargeHead(t *testing.T) {
	h := &handler{}
	url, _, _ := serve(t, wsconn.Config{MaxFrameBytes: 3 * wcs.HeadBytes}, h)
	ws := dial(t, url)
	frame := strings.Repeat("0123456789", wcs.HeadBytes)
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the frame reported", func() bool { return len(h.tooLarge()) == 1 })
	if f := h.tooLarge()[0]; string(f.Head) != frame[:wcs.HeadBytes] || f.Bytes != len(frame) || f.Closing {
		t.Errorf("reported %d head bytes, %d bytes, closing %v", len(f.Head), f.Bytes, f.Closing)
	}
}

// Above the hard limit what the handler sends from FrameTooLarge reaches the client before the
// close (1009), while the client is still sending the rest of the frame.
func TestHardLimitAnswerBeforeClose(t *testing.T) {
	h := &handler{}
	url, conns, m := serve(t, wsconn.Config{MaxFrameBytes: 1000, HardLimit: 4000}, h)
	ws := dial(t, url)
	c := <-conns
	h.answer = func(f wsconn.TooLarge) {
		c.Send([]byte(`{"message":"fail","data":[{"head":"` + string(f.Head[:5]) + `"}]}`))
	}
	ctx := context.Background()
	go func() { // 40 KB in frames of 1 KB: far past the hard limit
		w, err := ws.Writer(ctx, websocket.MessageText)
		if err != nil {
			return
		}
		chunk := []byte(strings.Repeat("z", 1000))
		for range 40 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_ = w.Close()
	}()
	_, b, err := ws.Read(ctx)
	if err != nil || string(b) != `{"message":"fail","data":[{"head":"zzzzz"}]}` {
		t.Fatalf("first frame %q, %v; want the handler's answer", b, err)
	}
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("close: %v, want 1009", err)
	}
	<-c.Gone()
	if n := testCounter(m, metrics.ReasonFrameTooLarge); n != 0 {
		t.Errorf("frame_too_large counted %v times by the transport; the handler counts it", n)
	}
}

// A client that goes on sending one frame past the hard limit loses the connection after
// DrainTimeout, without a close handshake.
func TestHardLimitEndlessFrame(t *testing.T) {
	h := &handler{}
	url, conns, _ := serve(t, wsconn.Config{MaxFrameBytes: 1000, HardLimit: 4000, DrainTimeout: 200 * time.Millisecond}, h)
	ws := dial(t, url)
	c := <-conns
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		w, err := ws.Writer(context.Background(), websocket.MessageText)
		if err != nil {
			return
		}
		chunk := []byte(strings.Repeat("e", 1000))
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	select {
	case <-c.Gone():
	case <-time.After(waitTimeout):
		t.Fatalf("connection still open %v into an endless frame", waitTimeout)
	}
	close(stop)
	<-sent
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("dropped after %v, before DrainTimeout", d)
	}
	if l := h.tooLarge(); len(l) != 1 || !l[0].Closing {
		t.Errorf("reported %+v", l)
	}
}

// waitTimeout bounds every wait for the connection to do something; generous, because a loaded
// machine under -race is slow. It is never a measurement.
const waitTimeout = 20 * time.Second

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, waitTimeout, what, cond)
}

func testCounter(m *metrics.Signal, reason string) float64 {
	var d dto.Metric
	if err := m.Errors.WithLabelValues(reason).Write(&d); err != nil {
		return -1
	}
	return d.GetCounter().GetValue()
}
