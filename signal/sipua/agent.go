// Package sipua is a signal node's SIP user agent (docs/protocol.md §E.1, §E.9, §E.10): the
// REGISTER of each session's SIP account, the dialogs of its calls, and the routing of incoming
// requests to the session they are for. It speaks SIP only (github.com/emiago/sipgo); the media of
// a call is bridged by a media daemon, whose SDP the session hands over. Sessions own their
// registrations and calls; the agent owns the socket and the tables that route to them.
package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Config of the agent.
type Config struct {
	// Listen is the SIP address, UDP and TCP on the same port ("0.0.0.0:5060"); port 0 = any.
	Listen string
	// Host is the address written into Via and Contact (what a registrar and peers reach); ""
	// = the bound IP (127.0.0.1 when it is unspecified).
	Host string
	// RingTimeout ends a call nobody answers: an incoming one is refused 480, an outgoing one is
	// cancelled (0 = DefaultRingTimeout).
	RingTimeout time.Duration
	// RequestTimeout bounds a REGISTER or another non-INVITE transaction (0 = 8 s).
	RequestTimeout time.Duration
	Logger         zerolog.Logger
	// Registerer takes the agent's metrics (potok_signal_sip_malformed_total); nil = none.
	Registerer prometheus.Registerer
}

// userAgent names Potok in its requests (User-Agent) and answers (Server).
const userAgent = "Potok"

// allowed is the Allow header of the OPTIONS answer: the methods the agent serves.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY, MESSAGE"

// DefaultRingTimeout is how long a call may ring.
const DefaultRingTimeout = 60 * time.Second

// Agent is the SIP user agent of one signal node.
type Agent struct {
	cfg  Config
	log  zerolog.Logger
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	udp  net.PacketConn
	tcp  net.Listener
	host string
	port int
	bad  *malformed

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	regs map[string]*Registration // by login: where incoming INVITEs for it go
	// dialogs route in-dialog requests, by Call-ID and our tag (dialogKey): a call between two
	// sessions of this node has both of its dialogs here, with one Call-ID.
	dialogs map[string]dialog
	closed  bool
}

// dialog is a call's side of the in-dialog requests the agent routes to it.
type dialog interface {
	readAck(req *sip.Request, tx sip.ServerTransaction) error
	readBye(req *sip.Request, tx sip.ServerTransaction) error
	readInvite(req *sip.Request, tx sip.ServerTransaction) error // a re-INVITE (reinvite.go)
	readNotify(req *sip.Request, tx sip.ServerTransaction) error // a transfer's progress (refer.go)
	readInfo(req *sip.Request, tx sip.ServerTransaction) error   // the peer's DTMF (info.go)
}

// Start opens the SIP ports and serves them until Close.
func Start(cfg Config) (*Agent, error) {
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 8 * time.Second
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, regs: map[string]*Registration{}, dialogs: map[string]dialog{}}
	if err := a.listen(cfg.Listen); err != nil {
		return nil, err
	}
	ua := a.udp.LocalAddr().(*net.UDPAddr)
	var err error
	a.port = ua.Port
	a.host = cfg.Host
	if a.host == "" {
		a.host = ua.IP.String()
		if ua.IP.IsUnspecified() {
			a.host = "127.0.0.1"
		}
	}
	if a.bad, err = newMalformed(cfg.Registerer, a.log); err != nil {
		a.closeSockets()
		return nil, fmt.Errorf("sipua: metrics: %w", err)
	}
	slog := slogger(a.log, func(transport, reason string) { a.bad.report(transport, "", reason, 0) })
	if a.ua, err = sipgo.NewUA(sipgo.WithUserAgent(userAgent), sipgo.WithUserAgentHostname(a.host),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(slog)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(slog),
			sip.WithTransportLayerReadFilter(a.bad.filter))); err != nil {
		a.closeSockets()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	if a.srv, err = sipgo.NewServer(a.ua, sipgo.WithServerLogger(slog)); err != nil {
		a.closeSockets()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	// Requests leave from the UDP socket peers reach us on, so that Via, Contact and the source
	// port agree (a registrar answers and routes calls to where the REGISTER came from).
	if a.cli, err = sipgo.NewClient(a.ua, sipgo.WithClientHostname(a.host), sipgo.WithClientPort(a.port),
		sipgo.WithClientConnectionAddr(ua.String())); err != nil {
		a.closeSockets()
		return nil, fmt.Errorf("sipua: %w", err)
	}
	a.routes()
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.serve(func() error { return a.srv.ServeUDP(a.udp) })
	a.serve(func() error { return a.srv.ServeTCP(a.tcp) })
	if err := a.waitUDP(ua.String()); err != nil {
		a.Close()
		return nil, err
	}
	a.log.Info().Str("listen", ua.String()).Str("host", a.host).Msg("sip listening")
	return a, nil
}

// listen binds UDP and TCP on one port. With port 0 the UDP port is any free one, and its TCP
// twin may be taken (by another socket's ephemeral port): then another port is tried.
func (a *Agent) listen(addr string) error {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("sipua: listen udp %s: %w", addr, err)
		}
		ua := udp.LocalAddr().(*net.UDPAddr)
		tcp, err := net.Listen("tcp", net.JoinHostPort(ua.IP.String(), strconv.Itoa(ua.Port)))
		if err == nil {
			a.udp, a.tcp = udp, tcp
			return nil
		}
		_ = udp.Close()
		if port != "0" || attempt == 20 {
			return fmt.Errorf("sipua: listen tcp on the SIP port %d: %w", ua.Port, err)
		}
	}
}

func (a *Agent) serve(f func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) && a.ctx.Err() == nil {
			a.log.Warn().Err(err).Msg("sip listener ended")
		}
	}()
}

// waitUDP waits until the UDP socket is in sipgo's transport pool: a request sent before would
// try to bind the port again (recipes: sipgo's readiness race).
func (a *Agent) waitUDP(addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, _ := a.ua.TransportLayer().GetConnection("udp", addr); c != nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("sipua: the UDP socket %s never became ready", addr)
}

// Addr is the SIP address peers reach (host:port).
func (a *Agent) Addr() string { return net.JoinHostPort(a.host, strconv.Itoa(a.port)) }

// Port is the bound SIP port.
func (a *Agent) Port() int { return a.port }

// Close stops serving; registrations and calls must have been ended by their sessions.
func (a *Agent) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
	_ = a.ua.Close()
	a.closeSockets()
	a.wg.Wait()
}

func (a *Agent) closeSockets() {
	if a.udp != nil {
		_ = a.udp.Close()
	}
	if a.tcp != nil {
		_ = a.tcp.Close()
	}
}

// routes installs the request handlers: each finds the registration or dialog it is for.
func (a *Agent) routes() {
	a.srv.OnInvite(a.onInvite)
	a.srv.OnMessage(a.onMessage)
	a.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if d := a.dialogOf(req); d != nil {
			_ = d.readAck(req, tx)
		}
	})
	a.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		d := a.dialogOf(req)
		if d == nil {
			a.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		if err := d.readBye(req, tx); err != nil {
			a.log.Debug().Err(err).Str("callId", callID(req)).Msg("bye")
		}
	})
	a.srv.OnInfo(func(req *sip.Request, tx sip.ServerTransaction) {
		d := a.dialogOf(req)
		if d == nil {
			a.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		if err := d.readInfo(req, tx); err != nil {
			a.log.Info().Err(err).Str("callId", callID(req)).Msg("INFO refused")
		}
	})
	a.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		d := a.dialogOf(req)
		if d == nil {
			a.respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
			return
		}
		if err := d.readNotify(req, tx); err != nil {
			a.log.Info().Err(err).Str("callId", callID(req)).Msg("NOTIFY refused")
		}
	})
	// A REFER from the peer would make this side place a call to its target (the transferee):
	// not done yet, so it is declined (docs/protocol.md §E.12).
	a.srv.OnRefer(func(req *sip.Request, tx sip.ServerTransaction) {
		a.log.Info().Str("callId", callID(req)).Msg("REFER from the peer declined: transfers are placed only by the page")
		a.respond(tx, req, 603, "Decline")
	})
	a.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
		res.AppendHeader(sip.NewHeader("Server", userAgent))
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		if err := tx.Respond(res); err != nil {
			a.log.Debug().Err(err).Msg("sip response not sent")
		}
	})
}

func (a *Agent) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	if err := tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil)); err != nil {
		a.log.Debug().Err(err).Int("code", code).Msg("sip response not sent")
	}
}

// dialogOf finds the dialog of an in-dialog request: our tag is its To tag ("" for a request
// that starts a dialog).
func (a *Agent) dialogOf(req *sip.Request) dialog {
	tag := ""
	if to := req.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	if tag == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dialogs[dialogKey(callID(req), tag)]
}

func dialogKey(callID, localTag string) string { return callID + "\x00" + localTag }

func (a *Agent) addDialog(id string, d dialog) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dialogs[id] = d
}

func (a *Agent) removeDialog(id string, d dialog) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dialogs[id] == d {
		delete(a.dialogs, id)
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// contact is the Contact of login at this agent.
func (a *Agent) contact(login, params string) sip.ContactHeader {
	c := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: login, Host: a.host, Port: a.port}}
	if params != "" {
		for _, p := range splitParams(params) {
			k, v, _ := cut(p, "=")
			c.Address.UriParams.Add(k, v)
		}
	}
	return c
}
