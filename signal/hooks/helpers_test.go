package hooks

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
)

// request is one hook a test backend received.
type request struct {
	path   string
	header http.Header
	body   []byte
}

// fields decodes the request's body.
func (r request) fields(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("hook body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// backend is a real HTTP backend that records every hook and answers through answer (nil = the
// echo a WCS backend is advised to send).
type backend struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *backend {
	t.Helper()
	b := &backend{answer: answer}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	return b
}

// start starts b (after a test replaced its listener) and closes it with the test.
func (b *backend) start(t *testing.T) *backend {
	b.Start()
	t.Cleanup(b.Close)
	return b
}

func startBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *backend {
	t.Helper()
	return newBackend(t, answer).start(t)
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.reqs = append(b.reqs, request{path: r.URL.Path, header: r.Header.Clone(), body: body})
	b.mu.Unlock()
	if b.answer != nil {
		b.answer(w, r, body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (b *backend) requests() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]request(nil), b.reqs...)
}

// app is an application whose hooks go to b under /apps/Test with every method enabled.
func (b *backend) app() rest.App {
	return rest.App{Key: "testApp", URL: b.URL + "/apps/Test", Methods: AllMethods()}
}

// newClient makes a Client with its own registry, for reading its metrics.
func newClient(t *testing.T, o Options) (*Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	if o.NodeID == "" {
		o.NodeID = "node1@127.0.0.1"
	}
	c, err := New(o, reg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, reg
}

// counter is the value of the counter name with labels in reg (0 when absent).
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func requestsTotal(t *testing.T, reg *prometheus.Registry, method, outcome string) float64 {
	t.Helper()
	return counter(t, reg, NameRequests, map[string]string{"method": method, "outcome": outcome})
}

// flakyListener closes the first refuse connections it accepts before anything is read: to the
// client a send failure, as a backend that restarts gives.
type flakyListener struct {
	net.Listener
	refuse   atomic.Int32
	accepted atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.accepted.Add(1)
		if l.refuse.Add(-1) >= 0 {
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

// closedPort is an address nothing listens on: connections to it are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// body is a hook body as a session builds it: the context parameters and a stream's fields.
func streamBody() map[string]any {
	return map[string]any{
		"sessionId": "sess-1", "appKey": "testApp", "mediaSessionId": "m1", "name": "s1",
		"published": true, "status": "PENDING", "sdp": "v=0\r\n", "record": false,
	}
}
