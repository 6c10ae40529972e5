// Package backend is a customer's backend for tests: a real HTTP server that records every REST
// hook Potok sends it (docs/protocol.md §F) and answers each method as the test says — echo, a
// status with a body, a delay, or garbage.
package backend

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/testkit/testwait"
)

// Hook is one request the backend received.
type Hook struct {
	Method string         // the last path element: connect, publishStream, …
	Body   map[string]any // the decoded JSON body
	Raw    []byte
	Header http.Header
	At     time.Time
}

// Field is Body[name] as a string ("" when absent or not a string).
func (h Hook) Field(name string) string {
	s, _ := h.Body[name].(string)
	return s
}

// Answer is how the backend answers one method. The zero Answer echoes the body with 200, as
// WCS's EchoApp does.
type Answer struct {
	Status int            // 0 = 200
	Body   string         // raw body; "" with Status 0 = the request echoed
	Merge  map[string]any // with an echo: members added to (or replacing those of) the echo
	Delay  time.Duration  // wait before answering (cut short when the client gives up)
}

// Backend is the running server.
type Backend struct {
	URL string // the app URL: hooks go to URL + "/" + method

	srv      *httptest.Server
	mu       sync.Mutex
	hooks    []Hook
	answers  map[string]Answer
	inFlight map[string]int // requests being answered, by method
	peak     map[string]int // the most ever in flight at once, by method
}

// Start runs a backend until the test ends.
func Start(t testing.TB) *Backend {
	t.Helper()
	b := &Backend{answers: map[string]Answer{}, inFlight: map[string]int{}, peak: map[string]int{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	b.URL = b.srv.URL + "/apps/test"
	return b
}

// App is an application of this backend with every method of methods enabled.
func (b *Backend) App(key string, methods ...string) rest.App {
	return rest.App{Key: key, URL: b.URL, Methods: methods}
}

// Answer sets how method is answered from now on.
func (b *Backend) Answer(method string, a Answer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answers[method] = a
}

func (b *Backend) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	h := Hook{Method: method, Raw: raw, Header: r.Header.Clone(), At: time.Now()}
	_ = json.Unmarshal(raw, &h.Body)
	b.mu.Lock()
	b.hooks = append(b.hooks, h)
	a := b.answers[method]
	b.inFlight[method]++
	b.peak[method] = max(b.peak[method], b.inFlight[method])
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight[method]--
		b.mu.Unlock()
	}()
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	body := []byte(a.Body)
	if a.Body == "" && a.Status == 0 {
		body = echo(raw, a.Merge)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func echo(raw []byte, merge map[string]any) []byte {
	if len(merge) == 0 {
		return raw
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		return raw
	}
	for k, v := range merge {
		obj[k] = v
	}
	out, _ := json.Marshal(obj)
	return out
}

// Peak is the most requests of method the backend was answering at the same moment: how much
// the server overlapped them.
func (b *Backend) Peak(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak[method]
}

// Hooks is every request so far, in arrival order.
func (b *Backend) Hooks() []Hook {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Hook(nil), b.hooks...)
}

// Of is the requests of one session (by sessionId), in order.
func (b *Backend) Of(sessionID string) []Hook {
	var out []Hook
	for _, h := range b.Hooks() {
		if h.Field("sessionId") == sessionID {
			out = append(out, h)
		}
	}
	return out
}

// Methods lists the methods of hooks, with the status for the status events
// ("StreamStatusEvent:PUBLISHING"), so an order is easy to compare.
func Methods(hooks []Hook) []string {
	out := make([]string, len(hooks))
	for i, h := range hooks {
		out[i] = h.Method
		if st := h.Field("status"); st != "" && strings.HasSuffix(h.Method, "StatusEvent") {
			out[i] += ":" + st
		}
	}
	return out
}

// WaitFor waits until a request satisfies match and returns it.
func (b *Backend) WaitFor(t testing.TB, d time.Duration, what string, match func(Hook) bool) Hook {
	t.Helper()
	var found Hook
	testwait.Until(t, d, what, func() bool {
		for _, h := range b.Hooks() {
			if match(h) {
				found = h
				return true
			}
		}
		return false
	})
	return found
}
