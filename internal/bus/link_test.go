package bus

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/potok-media/potok/testkit/testwait"
)

// restartable is an embedded server on a fixed loopback port that a test can stop and start again,
// as an operator restarts nats-server.
type restartable struct {
	t    *testing.T
	addr string
	emb  *Embedded
}

func newRestartable(t *testing.T) *restartable {
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	r := &restartable{t: t, addr: u.Host, emb: emb}
	t.Cleanup(func() {
		if r.emb != nil {
			r.emb.Shutdown()
		}
	})
	return r
}

func (r *restartable) url() string { return "nats://" + r.addr }

func (r *restartable) stop() {
	r.emb.Shutdown()
	r.emb = nil
}

func (r *restartable) start() {
	emb, err := StartEmbedded(EmbeddedOptions{Listen: r.addr})
	if err != nil {
		r.t.Fatal(err)
	}
	r.emb = emb
}

func next(t *testing.T, ch <-chan LinkEvent, want LinkEvent) {
	t.Helper()
	select {
	case ev := <-ch:
		if ev != want {
			t.Fatalf("link event %v, want %v", ev, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no link event, want %v", want)
	}
}

// TestLinkFollowsTheServer: a server stop is LinkDown, a stop past the grace LinkLost, the
// server back LinkUp; the metrics say so.
func TestLinkFollowsTheServer(t *testing.T) {
	srv := newRestartable(t)
	reg := prometheus.NewRegistry()
	l, err := Dial(DialOptions{URL: srv.url(), Name: "test", Link: LinkConfig{Grace: 300 * time.Millisecond, Registerer: reg}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Up() || l.UpSince().IsZero() {
		t.Fatal("link not up after Dial")
	}
	events := l.Watch()
	srv.stop()
	next(t, events, LinkDown)
	if l.Up() || !l.UpSince().IsZero() {
		t.Fatal("link up while the server is down")
	}
	next(t, events, LinkLost)
	if !l.Lost() {
		t.Fatal("Lost() false past the grace")
	}
	srv.start()
	next(t, events, LinkUp)
	if !l.Up() || l.Lost() {
		t.Fatal("link not up again")
	}
	if got := value(l.met.reconnects); got != 1 {
		t.Fatalf("reconnects %v, want 1", got)
	}
	if got := value(l.met.connected); got != 1 {
		t.Fatalf("connected gauge %v", got)
	}
	if got := value(l.met.lost); got != 1 {
		t.Fatalf("outages past grace %v, want 1", got)
	}
	l.Close()
	next(t, events, LinkClosed)
	if _, open := <-events; open {
		t.Fatal("watch channel open after close")
	}
}

// TestShortOutageIsNotLost: an outage shorter than the grace is Down then Up, never Lost.
func TestShortOutageIsNotLost(t *testing.T) {
	srv := newRestartable(t)
	l, err := Dial(DialOptions{URL: srv.url(), Name: "test", Link: LinkConfig{Grace: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	events := l.Watch()
	srv.stop()
	next(t, events, LinkDown)
	srv.start()
	next(t, events, LinkUp)
	if l.Lost() {
		t.Fatal("lost after a short outage")
	}
}

// TestEnsureRecreatesLostBuckets: a restarted server with in-memory buckets has none; after Ensure
// the handles opened before the restart work again.
func TestEnsureRecreatesLostBuckets(t *testing.T) {
	srv := newRestartable(t)
	l, err := Dial(DialOptions{URL: srv.url(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir, err := OpenDirectory(ctx, l.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Nodes.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	events := l.Watch()
	srv.stop()
	next(t, events, LinkDown)
	srv.start()
	next(t, events, LinkUp)
	if _, err := dir.Nodes.Get(ctx, "a"); err == nil {
		t.Fatal("an in-memory record outlived the server")
	}
	testwait.UntilOK(t, 10*time.Second, "buckets re-created", func() error { return dir.Ensure(ctx) })
	if _, err := dir.Nodes.Put(ctx, "a", []byte("2")); err != nil {
		t.Fatalf("put through the old handle after Ensure: %v", err)
	}
	e, err := dir.Nodes.Get(ctx, "a")
	if err != nil || string(e.Value()) != "2" {
		t.Fatalf("get after Ensure: %v %v", e, err)
	}
	if _, err := dir.Streams.Create(ctx, "s", []byte("x")); err != nil {
		t.Fatalf("create in the streams bucket after Ensure: %v", err)
	}
}

// TestFileStorageOutlivesARestart: with file storage the directory survives the server.
func TestFileStorageOutlivesARestart(t *testing.T) {
	store := t.TempDir()
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(emb.ClientURL())
	l, err := Dial(DialOptions{URL: emb.ClientURL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir, err := OpenDirectory(ctx, l.Conn, DirectoryConfig{Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Streams.Create(ctx, "kept", []byte("1")); err != nil {
		t.Fatal(err)
	}
	events := l.Watch()
	emb.Shutdown()
	next(t, events, LinkDown)
	emb, err = StartEmbedded(EmbeddedOptions{Listen: u.Host, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	next(t, events, LinkUp)
	testwait.UntilOK(t, 10*time.Second, "the kept record", func() error {
		_, err := dir.Streams.Get(ctx, "kept")
		return err
	})
}

// value reads a gauge or counter.
func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return -1
	}
	if out.Gauge != nil {
		return out.Gauge.GetValue()
	}
	return out.Counter.GetValue()
}
