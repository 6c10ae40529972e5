package bus

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultGrace is how long the control plane may be unreachable before the tiers give up on what
// depends on it (LinkLost); shorter outages end no stream (design.md "Faults of NATS itself").
const DefaultGrace = 30 * time.Second

// LinkEvent is a change of a Link's state, in the order it happened.
type LinkEvent int

const (
	// LinkUp: connected again (or for the first time after a failed first attempt). What a
	// restarted server may have lost (buckets, records, claims) must be re-asserted.
	LinkUp LinkEvent = iota + 1
	// LinkDown: disconnected; the client library reconnects on its own. Nodes keep serving what
	// they have and refuse what needs the control plane.
	LinkDown
	// LinkLost: down for longer than the grace; each tier ends what it cannot keep without the
	// control plane (README "Control plane faults").
	LinkLost
	// LinkClosed: closed for good; no event follows.
	LinkClosed
)

func (e LinkEvent) String() string {
	switch e {
	case LinkUp:
		return "up"
	case LinkDown:
		return "down"
	case LinkLost:
		return "lost"
	case LinkClosed:
		return "closed"
	}
	return "unknown"
}

// LinkConfig configures a Link.
type LinkConfig struct {
	Grace      time.Duration         // 0 = DefaultGrace
	Registerer prometheus.Registerer // potok_nats_* metrics; nil = none
}

// Link is one process's connection to the control plane and what it knows of its health; the
// tiers of a process share it. It owns the connection's state handlers: tiers subscribe with
// Watch instead of setting their own, and get every change in order from one goroutine.
type Link struct {
	*nats.Conn
	grace time.Duration
	met   linkMetrics

	mu       sync.Mutex
	known    bool // a state has been recorded
	everUp   bool // connected at least once: a later up is a reconnection
	up       bool
	since    time.Time   // when the current state (up or down) began
	lost     bool        // down for longer than grace
	timer    *time.Timer // fires LinkLost
	watchers []chan LinkEvent
	closing  bool // Close was called: the disconnection that follows is no outage
	closed   bool
}

type linkMetrics struct {
	connected  prometheus.Gauge
	reconnects prometheus.Counter
	lost       prometheus.Counter
	reasserts  *prometheus.CounterVec
}

func newLink(cfg LinkConfig) (*Link, error) {
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	l := &Link{grace: cfg.Grace, since: time.Now()}
	l.met = linkMetrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "potok_nats_connected",
			Help: "1 while this process is connected to the NATS control plane, else 0."}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "potok_nats_reconnects_total",
			Help: "Reconnections to the NATS control plane after a disconnection."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "potok_nats_outages_past_grace_total",
			Help: "Control-plane outages that lasted longer than the grace (streams that needed it were ended)."}),
		reasserts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "potok_directory_reasserts_total",
			Help: "Directory state re-asserted after a control-plane fault, by what (buckets, node, claims, watch)."},
			[]string{"what"}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{l.met.connected, l.met.reconnects, l.met.lost, l.met.reasserts} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// handlers are the nats options that feed the link.
func (l *Link) handlers() []nats.Option {
	return []nats.Option{
		nats.ConnectHandler(func(*nats.Conn) { l.set(true) }),
		nats.ReconnectHandler(func(*nats.Conn) { l.set(true) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { l.set(false) }),
		nats.ClosedHandler(func(*nats.Conn) { l.close() }),
	}
}

// start records the state the connection is in once Connect has returned.
func (l *Link) start(nc *nats.Conn) {
	l.Conn = nc
	if nc.IsConnected() {
		l.set(true)
	} else {
		l.set(false)
	}
}

// set moves the link up or down; repeated states are ignored.
func (l *Link) set(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.closing || l.known && l.up == up {
		return
	}
	l.known = true
	l.up, l.since, l.lost = up, time.Now(), false
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if up {
		l.met.connected.Set(1)
		if l.everUp {
			l.met.reconnects.Inc()
		}
		l.everUp = true
		l.notify(LinkUp)
		return
	}
	l.met.connected.Set(0)
	l.timer = time.AfterFunc(l.grace, l.expire)
	l.notify(LinkDown)
}

func (l *Link) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.up || l.lost {
		return
	}
	l.lost = true
	l.met.lost.Inc()
	l.notify(LinkLost)
}

func (l *Link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed, l.up = true, false
	if l.timer != nil {
		l.timer.Stop()
	}
	l.met.connected.Set(0)
	l.notify(LinkClosed)
	for _, w := range l.watchers {
		close(w)
	}
	l.watchers = nil
}

// notify queues ev for every watcher. Called with mu held. A watcher that is far behind loses
// the oldest meaning of its queue only in theory: 16 changes queued means its owner is stuck.
func (l *Link) notify(ev LinkEvent) {
	for _, w := range l.watchers {
		select {
		case w <- ev:
		default:
		}
	}
}

// Close closes the connection for good; watchers get LinkClosed and nothing else.
func (l *Link) Close() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	l.Conn.Close()
}

// Watch returns a channel of the link's changes from now on; it is closed when the link closes.
// The current state is not replayed: read Up and UpSince first.
func (l *Link) Watch() <-chan LinkEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan LinkEvent, 16)
	if l.closed {
		close(ch)
		return ch
	}
	l.watchers = append(l.watchers, ch)
	return ch
}

// Up reports whether the control plane is reachable now.
func (l *Link) Up() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

// UpSince is when the link last came up, zero while it is down. Absence-based judgements (a
// node whose record is missing is dead) must allow a heartbeat TTL after it: a restarted server
// has lost every record until each node has written its own again.
func (l *Link) UpSince() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up {
		return time.Time{}
	}
	return l.since
}

// Lost reports whether the link has been down for longer than the grace.
func (l *Link) Lost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Reasserted counts one re-assertion of directory state (what: buckets, node, claims, watch).
func (l *Link) Reasserted(what string) { l.met.reasserts.WithLabelValues(what).Inc() }
