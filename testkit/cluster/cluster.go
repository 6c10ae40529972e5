// Package cluster starts a whole Potok cluster inside a test process: an embedded NATS server,
// N media daemons and M signal nodes on 127.0.0.1 with free ports, media restricted to loopback.
// It exercises exactly the code of separate processes: the tiers talk only through NATS.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/mediad"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/restapi"
	"github.com/potok-media/potok/signal/sipua"
	"github.com/potok-media/potok/testkit/testwait"
)

// Options shape the cluster. Zero values mean one signal and one mediad.
type Options struct {
	Signals int
	Mediads int
	// Signal and Mediad adjust each node's config before it starts (e.g. shorter timeouts).
	Signal func(*signal.Config)
	Mediad func(*mediad.Config)
	// NATSListen exposes the embedded NATS on a TCP port (for separate processes to join); the
	// cluster's own nodes then connect over TCP too, so they ride out RestartNATS.
	NATSListen bool
	// Grace is the nodes' control-plane grace (0 = bus.DefaultGrace).
	Grace time.Duration
	// NATSAuth closes the exposed server as the all-in-one process does (implies NATSListen):
	// generated users per role, each node connects over TCP with its role's credentials and
	// permissions, and a permission violation any node hears fails the test.
	NATSAuth bool
	// Apps are put into the application registry; Hooks configures the REST hooks to their
	// backends (docs/protocol.md §F). REST adjusts each node's management REST API, served on
	// RESTURLs (Backend is set by the node).
	Apps  []rest.App
	Hooks hooks.Options
	REST  restapi.Options
	// SIP gives each signal node a SIP user agent on a free 127.0.0.1 port (SIPAddrs).
	SIP bool
}

// Cluster is a running in-process cluster. Everything stops in t.Cleanup.
type Cluster struct {
	NATS       *bus.Embedded
	NATSURL    string // set when Options.NATSListen
	Mediads    []*mediad.Daemon
	Signals    []*signal.Node
	WSURLs     []string // one per signal node
	RESTURLs   []string // the HTTP base of each signal node's REST API (http://127.0.0.1:port)
	SIPAddrs   []string // with Options.SIP: each signal node's SIP address (127.0.0.1:port)
	WSURL      string   // WSURLs[0]
	MetricsURL string   // /metrics of the shared registry (process CPU and all first-node metrics)
	Registry   *prometheus.Registry

	// Credentials are the role users when Options.NATSAuth (their URLs point at NATSURL).
	Credentials *bus.Credentials

	conns    []*bus.Link
	servers  []*httptest.Server
	opts     Options
	natsAddr string // host:port when NATSListen
	linked   bool   // link metrics registered in Registry

	mu         sync.Mutex
	violations []string // permission violations heard by the nodes (NATSAuth)
}

// Start brings the cluster up and registers its shutdown with t.Cleanup.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	c, err := start(t, o)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	c.waitMediads(t, len(c.Mediads))
	return c
}

func start(t testing.TB, o Options) (*Cluster, error) {
	if o.Signals <= 0 {
		o.Signals = 1
	}
	if o.Mediads <= 0 {
		o.Mediads = 1
	}
	if o.NATSAuth {
		o.NATSListen = true
	}
	c := &Cluster{Registry: prometheus.NewRegistry(), opts: o}
	c.Registry.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewGoCollector())
	if o.NATSAuth {
		t.Cleanup(func() {
			if v := c.PermissionViolations(); len(v) > 0 {
				t.Errorf("cluster: NATS permission violations (bus.RolePermissions misses a subject): %q", v)
			}
		})
		creds, err := bus.GenerateCredentials()
		if err != nil {
			return nil, err
		}
		c.Credentials = creds
	}
	t.Cleanup(c.Close)
	listen := ""
	if o.NATSListen {
		listen = "127.0.0.1:0"
	}
	emb, err := bus.StartEmbedded(c.embeddedOptions(listen))
	if err != nil {
		return nil, err
	}
	c.NATS, c.NATSURL = emb, emb.ClientURL()
	c.natsAddr = strings.TrimPrefix(c.NATSURL, "nats://")
	if c.Credentials != nil {
		if err := c.Credentials.SetURLs(c.NATSURL); err != nil {
			return nil, err
		}
	}
	log := logging.Test()
	ctx := context.Background()
	for i := range o.Mediads {
		cfg := mediad.Config{
			NodeID: fmt.Sprintf("mediad-%d", i), ListenIP: "127.0.0.1", LoopbackOnly: true,
			Registerer: c.registerer(i),
		}
		if o.Mediad != nil {
			o.Mediad(&cfg)
		}
		link, err := c.connect(cfg.NodeID, bus.RoleMediad, cfg.Registerer)
		if err != nil {
			return nil, err
		}
		d, err := mediad.Start(ctx, cfg, link, log.With().Str("nodeId", cfg.NodeID).Logger())
		if err != nil {
			return nil, fmt.Errorf("mediad %d: %w", i, err)
		}
		c.Mediads = append(c.Mediads, d)
	}
	for i := range o.Signals {
		// The ports are bound first, so that the node's heartbeat says where it is (the lbUrl
		// lookup, served on the REST port).
		wsLn, restLn, err := listenPair()
		if err != nil {
			return nil, fmt.Errorf("signal %d: %w", i, err)
		}
		cfg := signal.Config{NodeID: fmt.Sprintf("signal-%d", i), Registerer: c.registerer(i),
			Endpoint: &control.Endpoint{Host: "127.0.0.1", WS: portOf(wsLn), HTTP: portOf(restLn)}}
		if o.Signal != nil {
			o.Signal(&cfg)
		}
		link, err := c.connect(cfg.NodeID, bus.RoleSignal, cfg.Registerer)
		if err != nil {
			return nil, err
		}
		nlog := log.With().Str("nodeId", cfg.NodeID).Logger()
		ncfg := signal.NodeConfig{Signal: cfg, Hooks: o.Hooks, Apps: o.Apps}
		if o.SIP {
			ncfg.SIP = sipua.Config{Listen: "127.0.0.1:0", RingTimeout: 20 * time.Second}
		}
		s, err := signal.StartNode(ctx, ncfg, link, nlog)
		if err != nil {
			wsLn.Close()
			restLn.Close()
			return nil, fmt.Errorf("signal %d: %w", i, err)
		}
		c.Signals = append(c.Signals, s)
		if addr := s.SIPAddr(); addr != "" {
			c.SIPAddrs = append(c.SIPAddrs, addr)
		}
		srv := startOn(wsLn, s)
		c.servers = append(c.servers, srv)
		c.WSURLs = append(c.WSURLs, "ws"+strings.TrimPrefix(srv.URL, "http"))
		mux := http.NewServeMux()
		ropts := o.REST
		ropts.Log, ropts.Registerer = nlog, cfg.Registerer
		if err := s.RegisterREST(mux, ropts); err != nil {
			return nil, fmt.Errorf("signal %d: REST API: %w", i, err)
		}
		mux.Handle(signal.LBPath, s.LoadBalancer())
		rsrv := startOn(restLn, mux)
		c.servers = append(c.servers, rsrv)
		c.RESTURLs = append(c.RESTURLs, rsrv.URL)
	}
	c.WSURL = c.WSURLs[0]
	metrics := httptest.NewServer(promhttp.HandlerFor(c.Registry, promhttp.HandlerOpts{}))
	c.servers = append(c.servers, metrics)
	c.MetricsURL = metrics.URL + "/metrics"
	return c, nil
}

// registerer gives the first node of each kind the shared registry; the others get their own so
// that duplicate metric names of several in-process nodes do not collide.
func (c *Cluster) registerer(i int) prometheus.Registerer {
	if i == 0 {
		return c.Registry
	}
	return prometheus.NewRegistry()
}

func (c *Cluster) embeddedOptions(listen string) bus.EmbeddedOptions {
	o := bus.EmbeddedOptions{Listen: listen}
	if c.Credentials != nil {
		o.Users = c.Credentials.Users()
	}
	return o
}

// PermissionViolations are the permission violations the nodes have heard (NATSAuth).
func (c *Cluster) PermissionViolations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// connect gives a node its own Link: in-process, or over TCP when the server listens (as its
// role's user when NATSAuth). The first node's link metrics go to the shared registry, like its
// other metrics.
func (c *Cluster) connect(name string, role bus.Role, reg prometheus.Registerer) (*bus.Link, error) {
	if reg != c.Registry || c.linked {
		reg = nil // the potok_nats_* metrics are the process's: register them once
	} else {
		c.linked = true
	}
	lc := bus.LinkConfig{Grace: c.opts.Grace, Registerer: reg}
	var l *bus.Link
	var err error
	switch {
	case c.Credentials != nil:
		rc := c.Credentials.Signal
		if role == bus.RoleMediad {
			rc = c.Credentials.Mediad
		}
		l, err = bus.Dial(bus.DialOptions{URL: rc.URL, Name: name, Link: lc, InboxPrefix: role.InboxPrefix(),
			OnError: func(err error) {
				if strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
					c.mu.Lock()
					c.violations = append(c.violations, name+": "+err.Error())
					c.mu.Unlock()
				}
			}})
	case c.opts.NATSListen:
		l, err = bus.Dial(bus.DialOptions{URL: c.NATSURL, Name: name, Link: lc})
	default:
		l, err = c.NATS.ConnectLink(name, lc)
	}
	if err != nil {
		return nil, err
	}
	c.conns = append(c.conns, l)
	return l, nil
}

// StopNATS shuts the embedded server down (NATSListen clusters only); StartNATS brings it back
// on the same address with an empty store, as a restarted nats-server with in-memory buckets.
func (c *Cluster) StopNATS(t testing.TB) {
	t.Helper()
	if !c.opts.NATSListen {
		t.Fatal("cluster: StopNATS needs Options.NATSListen")
	}
	c.NATS.Shutdown()
}

// StartNATS starts the embedded server again after StopNATS.
func (c *Cluster) StartNATS(t testing.TB) {
	t.Helper()
	emb, err := bus.StartEmbedded(c.embeddedOptions(c.natsAddr))
	if err != nil {
		t.Fatalf("cluster: restart NATS: %v", err)
	}
	c.NATS = emb
}

// startTimeout bounds the cluster's start-up waits; generous for a loaded machine under -race.
const startTimeout = 20 * time.Second

// waitMediads waits until the directory lists n media daemons, so the first publish is placed.
func (c *Cluster) waitMediads(t testing.TB, n int) {
	t.Helper()
	nc, err := c.connect("cluster-probe", bus.RoleSignal, nil)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dir, err := bus.OpenDirectory(ctx, nc.Conn, bus.DirectoryConfig{})
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	testwait.UntilOK(t, startTimeout, fmt.Sprintf("%d mediads in the directory", n), func() error {
		if count := countNodes(ctx, dir, control.KindMediad); count < n {
			return fmt.Errorf("%d registered", count)
		}
		return nil
	})
}

func countNodes(ctx context.Context, dir *bus.Directory, kind string) int {
	keys, _ := dir.Nodes.Keys(ctx)
	n := 0
	for _, k := range keys {
		e, err := dir.Nodes.Get(ctx, k)
		if err != nil {
			continue
		}
		var rec control.NodeRecord
		if json.Unmarshal(e.Value(), &rec) == nil && rec.Kind == kind {
			n++
		}
	}
	return n
}

// Close stops signal nodes (clients get terminal statuses), then mediads, then NATS.
func (c *Cluster) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range c.Signals {
		_ = s.Shutdown(ctx)
	}
	for _, srv := range c.servers {
		srv.CloseClientConnections()
		srv.Close()
	}
	for _, d := range c.Mediads {
		_ = d.Close()
	}
	for _, nc := range c.conns {
		nc.Close()
	}
	if c.NATS != nil {
		c.NATS.Shutdown()
	}
	c.Signals, c.Mediads, c.servers, c.conns, c.NATS = nil, nil, nil, nil, nil
}

// PeerConnections sums live peer connections over all media daemons (leak checks).
func (c *Cluster) PeerConnections() int {
	n := 0
	for _, d := range c.Mediads {
		n += d.PeerConnections()
	}
	return n
}

var _ http.Handler = (*signal.Server)(nil)

// listenPair binds a WebSocket and a REST port on loopback.
func listenPair() (ws, rest net.Listener, err error) {
	if ws, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, nil, err
	}
	if rest, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, rest, nil
}

func portOf(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// startOn is httptest.NewServer on a listener bound before.
func startOn(ln net.Listener, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv
}
