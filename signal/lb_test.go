package signal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/signal"
)

// lbAnswer is what the WebSDK parses from lbUrl (docs/protocol.md §H.7).
type lbAnswer struct {
	Server string `json:"server"`
	WS     int    `json:"ws"`
	WSS    int    `json:"wss"`
	Flash  int    `json:"flash"`
}

// getLB asks url (an http base) for a server as the SDK does: a cross-origin GET.
func getLB(t *testing.T, url, host string) (lbAnswer, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+signal.LBPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://page.example")
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a lbAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v, want 200 JSON", signal.LBPath, resp.StatusCode, err)
	}
	return a, resp.Header
}

// startNode adds a signal node on e's NATS with endpoint, its WebSocket and lb handlers served.
func startNode(t *testing.T, e *env, id string, ep *control.Endpoint) (wsURL, httpURL string) {
	t.Helper()
	s, err := signal.New(context.Background(), signal.Config{NodeID: id, Endpoint: ep}, e.nc, logging.Test())
	if err != nil {
		t.Fatal(err)
	}
	ws, lb := httptest.NewServer(s), httptest.NewServer(s.LoadBalancer())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		ws.CloseClientConnections()
		ws.Close()
		lb.Close()
	})
	return "ws" + strings.TrimPrefix(ws.URL, "http"), lb.URL
}

// The lookup names the least loaded signal node, whichever node is asked, and moves when the
// load does.
func TestLBNamesLeastLoaded(t *testing.T) {
	e := newEnv(t, signal.Config{NodeID: "sig-0"}) // says nowhere: never an answer but for itself
	epA := &control.Endpoint{Host: "a.example", WS: 1080, WSS: 1443, HTTP: 1081, HTTPS: 1444}
	epB := &control.Endpoint{Host: "b.example", WS: 2080, WSS: 2443, HTTP: 2081, HTTPS: 2444}
	wsA, lbA := startNode(t, e, "sig-a", epA)
	wsB, lbB := startNode(t, e, "sig-b", epB)
	for range 2 {
		dialURL(t, wsA, nil).connect(nil)
	}
	want := func(ep *control.Endpoint) func() bool {
		return func() bool {
			for _, url := range []string{lbA, lbB} {
				a, _ := getLB(t, url, "")
				if a != (lbAnswer{Server: ep.Host, WS: ep.WS, WSS: ep.WSS}) {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "/lb on both nodes to name b (0 sessions) over a (2)", want(epB))
	for range 3 {
		dialURL(t, wsB, nil).connect(nil)
	}
	eventually(t, "/lb on both nodes to name a (2 sessions) over b (3)", want(epA))

	_, h := getLB(t, lbA, "")
	if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v, want CORS * and JSON", h)
	}
	pre, err := http.NewRequest(http.MethodOptions, lbA+signal.LBPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// A node that knows no public host answers with the host the request named and its own ports,
// an IPv6 literal in brackets (the SDK pastes it into a URL).
func TestLBAnswersRequestHost(t *testing.T) {
	e := newEnv(t, signal.Config{})
	_, lb := startNode(t, e, "sig-solo", &control.Endpoint{WS: 8080, WSS: 8443})
	for _, tc := range []struct{ host, want string }{
		{"media.example:8081", "media.example"},
		{"[::1]:8081", "[::1]"},
		{"10.1.2.3", "10.1.2.3"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			// sig-solo's record has no host, so only sig-solo itself may name it; the env's node says nothing.
			a, _ := getLB(t, lb, tc.host)
			if a != (lbAnswer{Server: tc.want, WS: 8080, WSS: 8443}) {
				t.Errorf("answer %+v, want %s with ws 8080 and wss 8443", a, tc.want)
			}
		})
	}
	resp, err := http.Post(lb+signal.LBPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}
