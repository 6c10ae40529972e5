package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/internal/config"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/internal/ops"
	"github.com/potok-media/potok/mediad"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/restapi"
	"github.com/potok-media/potok/signal/restauth"
	"github.com/potok-media/potok/signal/sipua"
	"github.com/potok-media/potok/webclient"
)

type role int

const (
	roleAll role = iota
	roleSignal
	roleMediad
)

// shutdownBudget bounds a graceful stop: clients get their terminal statuses within it.
const shutdownBudget = 10 * time.Second

// serve runs the tiers of one process until ctx ends (SIGTERM), then stops them in order:
// signal first (clients are told their streams ended), then media, then the control plane.
func serve(ctx context.Context, name string, args []string, r role, stderr io.Writer) error {
	cfg, err := config.Load(name, args, stderr)
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if r != roleAll && cfg.NATS.URL == "" {
		return fmt.Errorf("%s needs --nats (or POTOK_NATS_URL): the tiers talk only through NATS", name)
	}
	p := &process{log: log, reg: newRegistry()}
	defer p.stop()
	// The node ids are known before anything starts: they label every metric of their tier,
	// the NATS connection's included (README "Monitoring").
	var nodes []prometheus.Registerer
	if r == roleAll || r == roleMediad {
		if cfg.Mediad.NodeID == "" {
			cfg.Mediad.NodeID = nodeID("mediad")
		}
		nodes = append(nodes, p.nodeRegisterer("mediad", cfg.Mediad.NodeID))
	}
	if r == roleAll || r == roleSignal {
		if cfg.Signal.NodeID == "" {
			cfg.Signal.NodeID = nodeID("signal")
		}
		nodes = append(nodes, p.nodeRegisterer("signal", cfg.Signal.NodeID))
	}
	p.linkReg = ops.Tee(nodes...)
	if err := p.connect(cfg.NATS, r); err != nil {
		return err
	}
	if r == roleAll || r == roleMediad {
		if err := p.startMediad(ctx, cfg.Mediad, r == roleMediad); err != nil {
			return err
		}
	}
	if r == roleAll || r == roleSignal {
		if err := p.startSignal(ctx, cfg.Signal); err != nil {
			return err
		}
	}
	log.Info().Msg("potok ready")
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-p.failed:
		log.Error().Err(err).Msg("server failed, shutting down")
		return err
	}
	return nil
}

// process holds what one potok process runs, in start order; stop undoes it in reverse.
type process struct {
	log      zerolog.Logger
	reg      *prometheus.Registry
	nodeRegs map[string]prometheus.Registerer // by tier: reg with the node's label
	linkReg  prometheus.Registerer            // the NATS link's metrics, once per node
	embedded *bus.Embedded
	link     *bus.Link
	dir      bus.DirectoryConfig
	mediad   *mediad.Daemon
	signal   *signal.Node
	restOpts restapi.Options // the REST API of the signal node
	websdk   string          // the WebSDK package served at /client2/ ("" = none)
	servers  []*http.Server
	failed   chan error

	// drainGrace is how long a stopping media daemon lets its sessions go on (--drain-grace).
	drainGrace time.Duration
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// nodeRegisterer is the registerer of one node's metrics (its id as the node label), with the
// build it runs.
func (p *process) nodeRegisterer(tier, id string) prometheus.Registerer {
	reg := ops.ForNode(p.reg, id)
	reg.MustRegister(ops.BuildInfo(tier, version))
	if p.nodeRegs == nil {
		p.nodeRegs = map[string]prometheus.Registerer{}
	}
	p.nodeRegs[tier] = reg
	return reg
}

func (p *process) connect(c config.NATS, r role) error {
	p.failed = make(chan error, 8) // one per server at most
	lc := bus.LinkConfig{Grace: c.Grace, Registerer: p.linkReg}
	p.dir = bus.DirectoryConfig{Replicas: c.KVReplicas}
	if c.Storage() == "file" {
		p.dir.Storage = jetstream.FileStorage
	}
	if c.URL != "" {
		o := bus.DialOptions{URL: c.URL, Name: "potok-" + hostname(), Link: lc, OnError: p.natsErrors(),
			Auth: bus.ClientAuth{User: c.User, Password: c.Password, Token: c.Token, NkeySeedFile: c.NkeySeed,
				CredsFile: c.Creds, TLSCAFile: c.TLSCA, TLSCertFile: c.TLSCert, TLSKeyFile: c.TLSKey}}
		// A tier alone gets its replies under its role's prefix, which the role's permissions
		// allow (README "Securing the control plane"); the all-in-one runs both on one link.
		switch r {
		case roleSignal:
			o.InboxPrefix = bus.RoleSignal.InboxPrefix()
		case roleMediad:
			o.InboxPrefix = bus.RoleMediad.InboxPrefix()
		}
		link, err := bus.Dial(o)
		if err != nil {
			return err
		}
		p.link = link
		return nil
	}
	eo := bus.EmbeddedOptions{Listen: c.Listen}
	var creds *bus.Credentials
	var credsPath string
	if c.Listen != "" {
		// Exposed: closed by default. The nodes that join need the users in the file.
		var created bool
		var err error
		credsPath = c.CredentialsPath()
		if abs, err := filepath.Abs(credsPath); err == nil {
			credsPath = abs
		}
		if creds, created, err = bus.LoadOrCreateCredentials(credsPath); err != nil {
			return err
		}
		if created {
			p.log.Info().Str("file", credsPath).Msg("generated NATS credentials for the embedded server (mode 0600)")
		}
		eo.Users = creds.Users()
		if c.ListenTLSCert != "" {
			eo.TLS = &bus.EmbeddedTLS{CertFile: c.ListenTLSCert, KeyFile: c.ListenTLSKey, CAFile: c.ListenTLSCA}
		}
	}
	emb, err := bus.StartEmbedded(eo)
	if err != nil {
		return err
	}
	p.embedded = emb
	if url := emb.ClientURL(); url != "" {
		before := *creds
		if err := creds.SetURLs(url); err != nil {
			return err
		}
		if *creds != before {
			if err := creds.Save(credsPath); err != nil {
				return err
			}
		}
		p.log.Info().Str("url", url).Str("credentials", credsPath).
			Msg("embedded NATS listening for other nodes; they connect with the signal or mediad URL in the credentials file")
	}
	link, err := emb.ConnectLink("potok-all-in-one", lc)
	if err != nil {
		return err
	}
	p.link = link
	return nil
}

// natsErrors logs what the NATS connection reports asynchronously: refused reconnections,
// permission violations (a server whose permissions miss a subject Potok uses), slow consumers.
// The same error is logged once a minute at most: a server that is down fails every 500 ms.
func (p *process) natsErrors() func(error) {
	var mu sync.Mutex
	last, at := "", time.Time{}
	return func(err error) {
		msg := err.Error()
		mu.Lock()
		repeat := msg == last && time.Since(at) < time.Minute
		if !repeat {
			last, at = msg, time.Now()
		}
		mu.Unlock()
		if !repeat {
			p.log.Warn().Err(err).Msg("nats")
		}
	}
}

func (p *process) startMediad(ctx context.Context, c config.Mediad, standalone bool) error {
	id := c.NodeID
	d, err := mediad.Start(ctx, mediad.Config{
		NodeID: id, ListenIP: c.ListenIP, UDPPort: c.UDPPort, TCPPort: c.TCPPort,
		PublicIPs: c.PublicIPs, LoopbackOnly: c.Loopback, ICETimeout: c.ICETimeout, Registerer: p.nodeRegs["mediad"],
		Directory: p.dir, MaxPlayersPerStream: c.MaxPlayersPerStream, RTPPortMin: c.RTPPortMin, RTPPortMax: c.RTPPortMax,
	}, p.link, logging.Component(p.log, "mediad", id))
	if err != nil {
		return fmt.Errorf("mediad: %w", err)
	}
	p.mediad, p.drainGrace = d, c.DrainGrace
	ev := p.log.Info().Str("nodeId", id).Stringer("udp", d.UDPAddr())
	if t := d.TCPAddr(); t != nil {
		ev = ev.Stringer("tcp", t)
	}
	ev.Msg("mediad started")
	if standalone {
		return p.listen("metrics", c.HTTPListen, p.opsHandler())
	}
	return nil
}

func (p *process) startSignal(ctx context.Context, c config.Signal) error {
	id := c.NodeID
	// Production mode needs its users before anything listens: refusing to start beats a REST
	// API that nobody can use (docs/protocol.md §G.1).
	var auth restapi.Authenticator
	if c.REST.Auth {
		users, err := restauth.Require(c.REST.UsersPath())
		if err != nil {
			return fmt.Errorf("signal: %w", err)
		}
		auth = users
	}
	var tlsCfg *tls.Config
	if c.WSSListen != "" || c.HTTPSListen != "" {
		var err error
		if tlsCfg, err = p.tlsConfig(c); err != nil {
			return err
		}
	}
	lns, err := bindSignal(c)
	if err != nil {
		return err
	}
	h := c.Hooks
	s, err := signal.StartNode(ctx, signal.NodeConfig{
		Signal: signal.Config{
			NodeID: id, MaxFrameBytes: c.MaxFrameBytes, PingInterval: c.PingInterval, MissedPongs: c.MissedPongs,
			AllowedOrigins: c.AllowedOrigins, MediaTimeout: c.MediaTimeout, Registerer: p.nodeRegs["signal"],
			Directory: p.dir, HookKeepAlive: h.KeepAliveInterval, RESTQueryTimeout: c.REST.QueryTimeout,
			MaxSessionsPerIP: c.MaxSessionsPerIP, MaxSessions: c.MaxSessions, ConnectionDeadline: c.ConnectionDeadline,
			Endpoint: lns.endpoint(c.PublicHost), PreferMediad: c.PreferMediad, KeepAliveGrace: c.KeepAliveGrace,
		},
		Hooks: hooks.Options{Timeout: h.Timeout, Retries: h.Retries, SecretKey: h.SecretKey, Disabled: h.Disabled},
		Apps:  c.Apps,
		SIP:   sipua.Config{Listen: c.SIP.Listen, Host: c.SIP.Host, RingTimeout: c.SIP.RingTimeout},
	}, p.link, logging.Component(p.log, "signal", id))
	if err != nil {
		lns.close()
		return fmt.Errorf("signal: %w", err)
	}
	p.signal = s
	p.websdk = c.WebSDKDir
	p.restOpts = restapi.Options{Auth: auth, AllowOrigin: c.REST.AllowOrigin, Timeout: c.REST.QueryTimeout + 5*time.Second,
		Log: logging.Component(p.log, "restapi", id), Registerer: p.nodeRegs["signal"]}
	// One handler per kind for plain and TLS ports: wss:// is the same endpoint as ws://, https://
	// the same REST API, metrics and stats page as http:// (WCS's 8443 and 8444).
	ops := p.opsHandler()
	p.serve("websocket", lns.ws, s)
	p.serve("http", lns.http, ops)
	p.log.Info().Str("url", clientURL(lns.http.Addr(), webclient.Prefix)).Msg("browser client and demo pages")
	if c.WebSDKDir != "" {
		p.log.Info().Str("url", clientURL(lns.http.Addr(), webclient.WebSDKPrefix)).Str("dir", c.WebSDKDir).Msg("WebSDK examples")
	}
	if lns.wss != nil {
		p.serve("wss", tls.NewListener(lns.wss, tlsCfg), s)
	}
	if lns.https != nil {
		p.serve("https", tls.NewListener(lns.https, tlsCfg), ops)
	}
	return nil
}

// clientURL is where a browser on this machine finds the demo pages (webclient) of the HTTP port.
func clientURL(a net.Addr, prefix string) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String() + prefix
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + prefix
}

// opsHandler serves /metrics, /health and /ready on every process, and the REST API namespace
// where a signal node runs (signal/restapi). The process is ready when each of its tiers is.
func (p *process) opsHandler() http.Handler {
	var checks []ops.Check
	if p.mediad != nil {
		checks = append(checks, ops.Check{Name: "mediad", Ready: p.mediad.Ready})
	}
	if p.signal != nil {
		checks = append(checks, ops.Check{Name: "signal", Ready: p.signal.Ready})
	}
	mux := ops.NewMux(p.reg, checks...)
	if p.signal != nil {
		if err := p.signal.RegisterREST(mux, p.restOpts); err != nil {
			p.log.Error().Err(err).Msg("rest api not served")
		}
		// The WebSDK's lbUrl lookup, without auth: the SDK sends no credentials (§H.7).
		mux.Handle(signal.LBPath, p.signal.LoadBalancer())
		// The browser client and its demo pages (README "Browser client"), public as the pages are.
		mux.Handle(webclient.Prefix, webclient.Handler(webclient.Options{}))
		if dir := p.websdk; dir != "" {
			if h, err := webclient.WebSDKHandler(dir); err != nil {
				p.log.Error().Err(err).Msg("WebSDK examples not served")
			} else {
				mux.Handle(webclient.WebSDKPrefix, h)
			}
		}
	}
	return mux
}

func (p *process) listen(what, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s listen %s: %w", what, addr, err)
	}
	p.serve(what, ln, h)
	return nil
}

// serve runs an HTTP server on ln until stop. ReadHeaderTimeout also bounds a TLS handshake and
// a socket that never sends its upgrade request.
func (p *process) serve(what string, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	p.servers = append(p.servers, srv)
	p.log.Info().Str("addr", ln.Addr().String()).Msgf("%s listening", what)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.failed <- fmt.Errorf("%s server: %w", what, err)
		}
	}()
}

func (p *process) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	if p.signal != nil {
		if err := p.signal.Shutdown(ctx); err != nil {
			p.log.Warn().Err(err).Msg("signal shutdown")
		}
	}
	if p.mediad != nil {
		// Drained while /ready (503 now) and /metrics still answer; the budget counts after it.
		p.drainMediad()
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), shutdownBudget)
		defer cancel()
	}
	for _, s := range p.servers {
		_ = s.Shutdown(ctx)
	}
	if p.mediad != nil {
		p.closeMediad(ctx)
	}
	if p.link != nil {
		p.link.Close()
	}
	if p.embedded != nil {
		p.embedded.Shutdown()
	}
	p.log.Info().Msg("stopped")
}

// drainMediad lets the media daemon's sessions go on for up to the drain grace, taking no new
// ones, and ends those left with their clients told (design.md "Failure"). Where signal runs in
// the same process its shutdown has stopped them all already, and this returns at once.
func (p *process) drainMediad() {
	ctx, cancel := context.WithTimeout(context.Background(), p.drainGrace+shutdownBudget)
	defer cancel()
	if err := p.mediad.Drain(ctx, p.drainGrace); err != nil {
		p.log.Warn().Err(err).Msg("mediad drain")
	}
}

// closeMediad closes the media daemon within the shutdown budget; past it the process exits anyway
// and the kernel closes the sockets.
func (p *process) closeMediad(ctx context.Context) {
	done := make(chan error, 1)
	go func() { done <- p.mediad.Close() }()
	select {
	case err := <-done:
		if err != nil {
			p.log.Warn().Err(err).Msg("mediad shutdown")
		}
	case <-ctx.Done():
		p.log.Error().Msg("mediad did not stop within the shutdown budget; exiting anyway")
	}
}

// nodeID makes a readable, subject-safe id: <kind>-<host>-<random>.
func nodeID(kind string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return kind + "-" + hostname() + "-" + hex.EncodeToString(b)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "host"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, h)
}
