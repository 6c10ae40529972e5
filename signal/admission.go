package signal

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/signal/metrics"
)

// admission caps the WebSocket sessions a node holds, in all and per client IP (README "Limits
// that protect the server"): one client once opened 5,000 sessions in 2 s, each a goroutine pair,
// a session state machine and a heartbeat's worth of load. A socket counts from the upgrade
// request to its end, whether or not it sent connection.
//
// The client IP is the TCP peer's. Behind a proxy (nginx) every client has the proxy's address, so
// the per-IP cap applies to the proxy as a whole: raise --max-sessions-per-ip there, or set it to
// 0 and let the proxy limit per client (limit_conn). X-Forwarded-For is not read: any client can
// write it.
type admission struct {
	maxPerIP, max int // 0 = unlimited

	mu    sync.Mutex
	perIP map[string]int
	total int
}

func newAdmission(maxPerIP, max int) *admission {
	return &admission{maxPerIP: maxPerIP, max: max, perIP: map[string]int{}}
}

// enter counts a new socket from ip, or says why it is refused: a reason (metrics.Refused*) and
// the text for the client. Every admitted enter needs its leave.
func (a *admission) enter(ip string) (reason, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.max > 0 && a.total >= a.max:
		return metrics.RefusedNodeLimit, fmt.Sprintf("Server full: %d WebSocket sessions, try another server or later", a.max)
	case a.maxPerIP > 0 && a.perIP[ip] >= a.maxPerIP:
		return metrics.RefusedIPLimit, fmt.Sprintf("Too many WebSocket sessions from %s: the limit is %d", ip, a.maxPerIP)
	}
	a.total++
	a.perIP[ip]++
	return "", ""
}

func (a *admission) leave(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if a.perIP[ip]--; a.perIP[ip] <= 0 {
		delete(a.perIP, ip) // the map holds only the addresses with a socket open
	}
}

// clientIP is the TCP peer's address without its port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// admit runs admission for one upgrade request. When refused it has answered 503 with the
// reason as text (the WebSDK sees a failed socket, docs/protocol.md §E.1b; the log and the
// metric say why) and returns false; otherwise the caller must call s.adm.leave(ip) once the
// socket has ended.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, ip string) bool {
	reason, text := s.adm.enter(ip)
	if reason == "" {
		return true
	}
	s.m.Refuse(reason)
	// Sampled: a client hammering the node must not flood the log; the metric counts them all.
	s.refusedLog.Warn().Str("remote", r.RemoteAddr).Str("reason", reason).Msg("WebSocket refused: " + text)
	w.Header().Set("Retry-After", "5")
	http.Error(w, text, http.StatusServiceUnavailable)
	return false
}

// refusedSampler lets a few refusals per 10 s into the log.
func refusedSampler() zerolog.Sampler {
	return &zerolog.BurstSampler{Burst: 5, Period: 10 * time.Second}
}
