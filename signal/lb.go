package signal

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"

	"github.com/potok-media/potok/api/control"
)

// LBPath is where the HTTP(S) ports of signal answer the WebSDK's load-balancer lookup: a page
// creates its session with lbUrl: "http://any-signal-node:8081/lb" (docs/protocol.md §H.7).
const LBPath = "/lb"

// lbAnswer is the JSON the WebSDK parses (§H.7); it builds wss://server:wss when its urlServer
// is wss://, else ws://server:ws. Flash is gone from the SDK: 0.
type lbAnswer struct {
	Server string `json:"server"`
	WS     int    `json:"ws"`
	WSS    int    `json:"wss"`
	Flash  int    `json:"flash"`
}

// endpoint is this node's Endpoint for its heartbeat (mediactl.Config.Endpoint): a copy, as the
// record is encoded on another goroutine.
func (s *Server) endpoint() *control.Endpoint {
	if s.cfg.Endpoint == nil {
		return nil
	}
	e := *s.cfg.Endpoint
	return &e
}

// LoadBalancer answers the lbUrl lookup with the least loaded healthy signal node (fewest
// WebSocket sessions in its last heartbeat, ties drawn at random so that the lookups between two
// heartbeats do not all land on one node). It reads only this node's view of the directory, so it
// answers at once, and always 200: the SDK leaves a session PENDING forever on any other answer
// (§H.7). CORS is open: the page is usually served from another origin.
func (s *Server) LoadBalancer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "content-type,x-requested-with")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(s.pickEndpoint(requestHost(r)))
	})
}

// pickEndpoint chooses among the live signal records that say where they are. A record without a
// host (no --public-host) is usable only for this node, reached by the host the request named.
// With no usable record (the directory not read yet, NATS away) the answer is this node itself.
func (s *Server) pickEndpoint(reqHost string) lbAnswer {
	var best []control.Endpoint
	bestLoad := 0
	for _, rec := range s.ctl.SignalRecords() { // least loaded first
		if rec.Draining || rec.Endpoint == nil || rec.Endpoint.WS == 0 && rec.Endpoint.WSS == 0 {
			continue
		}
		ep := *rec.Endpoint
		if rec.ID == s.cfg.NodeID {
			if s.isClosing() {
				continue
			}
			if ep.Host == "" {
				ep.Host = reqHost
			}
		}
		if ep.Host == "" {
			continue
		}
		if len(best) > 0 && rec.Load.Sessions > bestLoad {
			break
		}
		best, bestLoad = append(best, ep), rec.Load.Sessions
	}
	if len(best) == 0 {
		own := control.Endpoint{Host: reqHost}
		if s.cfg.Endpoint != nil {
			own = *s.cfg.Endpoint
			if own.Host == "" {
				own.Host = reqHost
			}
		}
		best = append(best, own)
	}
	ep := best[rand.IntN(len(best))]
	return lbAnswer{Server: urlHost(ep.Host), WS: ep.WS, WSS: ep.WSS}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// requestHost is the host the client named in the request, without the port.
func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		return "localhost"
	}
	return host
}

// urlHost puts an IPv6 literal in brackets: the SDK pastes the answer's server into a URL.
func urlHost(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h
	}
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}
