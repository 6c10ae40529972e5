package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
)

// secured is an exposed embedded server with generated role credentials.
func secured(t *testing.T) (*Embedded, *Credentials) {
	t.Helper()
	creds, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Users: creds.Users()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	if err := creds.SetURLs(emb.ClientURL()); err != nil {
		t.Fatal(err)
	}
	return emb, creds
}

// asyncErrors collects what a connection's OnError hears.
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrors) add(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

func (a *asyncErrors) all() []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]error(nil), a.errs...)
}

// violations are the permission violations heard so far.
func (a *asyncErrors) violations() []string {
	var out []string
	for _, err := range a.all() {
		if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			out = append(out, err.Error())
		}
	}
	return out
}

// dialRole connects as a role over TCP, as a separate `potok signal`/`potok mediad` does.
func dialRole(t *testing.T, rc RoleCredentials, r Role) (*Link, *asyncErrors) {
	t.Helper()
	errs := &asyncErrors{}
	l, err := Dial(DialOptions{URL: rc.URL, Name: string(r), InboxPrefix: r.InboxPrefix(), OnError: errs.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, errs
}

// An exposed embedded server refuses clients without credentials or with a wrong password, at
// once: Dial does not retry a refusal of its first attempt. The in-process connection of the
// all-in-one process gets in with its own user.
func TestExposedServerRefusesStrangers(t *testing.T) {
	emb, creds := secured(t)
	url := emb.ClientURL()
	if _, err := nats.Connect(url, nats.Timeout(5*time.Second)); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connect without credentials: %v, want %v", err, nats.ErrAuthorization)
	}
	if _, err := nats.Connect(url, nats.UserInfo(creds.Mediad.User, creds.Mediad.Password+"x")); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connect with a wrong password: %v, want %v", err, nats.ErrAuthorization)
	}
	if _, err := nats.Connect(url, nats.UserInfo(internalUser, "guess")); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connect as the internal user: %v, want %v", err, nats.ErrAuthorization)
	}
	start := time.Now()
	_, err := Dial(DialOptions{URL: url, Name: "stranger", Auth: ClientAuth{User: "mediad", Password: "wrong"}})
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("Dial with a wrong password: %v, want %v", err, nats.ErrAuthorization)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial took %s to report the refusal", d)
	}
	if err != nil && strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}
	_, err = Dial(DialOptions{URL: strings.Replace(creds.Signal.URL, creds.Signal.Password, "guess", 1), Name: "stranger"})
	if !errors.Is(err, nats.ErrAuthorization) || strings.Contains(err.Error(), "guess") {
		t.Errorf("Dial with a wrong password in the URL: %v, want %v without the password", err, nats.ErrAuthorization)
	}
	for _, rc := range []RoleCredentials{creds.Signal, creds.Mediad} {
		nc, err := nats.Connect(rc.URL)
		if err != nil {
			t.Errorf("connect as %s: %v", rc.User, err)
			continue
		}
		nc.Close()
	}
	l, err := emb.Connect("all-in-one")
	if err != nil {
		t.Fatalf("in-process connection: %v", err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := OpenDirectory(ctx, l.Conn, DirectoryConfig{}); err != nil {
		t.Fatalf("in-process directory: %v", err)
	}
}

// Each role can do all its tier does: the RPCs, the events and every directory operation, with
// no permission violation; and nothing of the other tier's.
func TestRolePermissions(t *testing.T) {
	_, creds := secured(t)
	sig, sigErrs := dialRole(t, creds.Signal, RoleSignal)
	med, medErrs := dialRole(t, creds.Mediad, RoleMediad)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// What mediad does: open (create) both buckets, heartbeat, read a signal node's record,
	// serve an RPC, publish an event, withdraw its record.
	mdir, err := OpenDirectory(ctx, med.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatalf("mediad directory: %v; async errors %v", err, medErrs.all())
	}
	if err := mdir.Ensure(ctx); err != nil {
		t.Fatalf("mediad ensure: %v", err)
	}
	if _, err := mdir.Nodes.Put(ctx, control.NodeKey("m1"), []byte(`{"id":"m1","kind":"mediad"}`)); err != nil {
		t.Fatalf("mediad heartbeat: %v", err)
	}
	rpc, err := med.Subscribe(control.MediaSubject("m1", control.OpPublish), func(m *nats.Msg) {
		if err := Reply(m, control.PublishReply{Answer: "v=0"}); err != nil {
			t.Errorf("mediad reply: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Unsubscribe()
	if err := med.Flush(); err != nil {
		t.Fatal(err)
	}

	// What signal does: open the buckets, heartbeat, watch the nodes, claim, update, read and
	// release stream names, sweep tombstones, request from a mediad, hear its events.
	sdir, err := OpenDirectory(ctx, sig.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatalf("signal directory: %v", err)
	}
	if _, err := sdir.Nodes.Put(ctx, control.NodeKey("s1"), []byte(`{"id":"s1","kind":"signal"}`)); err != nil {
		t.Fatalf("signal heartbeat: %v", err)
	}
	w, err := sdir.Nodes.WatchAll(ctx)
	if err != nil {
		t.Fatalf("signal watch: %v", err)
	}
	seen := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		seen++
	}
	_ = w.Stop()
	if seen != 2 {
		t.Errorf("signal's watch saw %d node records, want 2", seen)
	}
	if keys, err := sdir.Nodes.Keys(ctx); err != nil || len(keys) != 2 {
		t.Errorf("signal's node keys: %v, %v", keys, err)
	}
	if _, err := mdir.Nodes.Get(ctx, control.NodeKey("s1")); err != nil {
		t.Errorf("mediad reads a signal node's record: %v", err)
	}
	key := control.StreamKey("cam")
	rev, err := sdir.Streams.Create(ctx, key, []byte(`{"name":"cam"}`))
	if err != nil {
		t.Fatalf("signal claim: %v", err)
	}
	if _, err := sdir.Streams.Update(ctx, key, []byte(`{"name":"cam","mediaNode":"m1"}`), rev); err != nil {
		t.Errorf("signal update claim: %v", err)
	}
	if _, err := sdir.Streams.Get(ctx, key); err != nil {
		t.Errorf("signal read claim: %v", err)
	}
	if err := sdir.Streams.Delete(ctx, key); err != nil {
		t.Errorf("signal release: %v", err)
	}
	if n, err := sdir.PurgeStreamTombstones(ctx, -time.Second); err != nil || n != 1 {
		t.Errorf("signal tombstone sweep: %d, %v; want 1", n, err)
	}
	events := make(chan *nats.Msg, 4)
	evSub, err := sig.ChanSubscribe(control.SignalEventsSubject("s1"), events)
	if err != nil {
		t.Fatal(err)
	}
	defer evSub.Unsubscribe()
	if err := sig.Flush(); err != nil {
		t.Fatal(err)
	}
	var rep control.PublishReply
	if err := Request(ctx, sig.Conn, control.MediaSubject("m1", control.OpPublish), control.PublishRequest{StreamName: "cam"}, &rep); err != nil || rep.Answer != "v=0" {
		t.Errorf("signal → mediad RPC: %+v, %v", rep, err)
	}
	if err := Publish(med.Conn, control.SignalEventsSubject("s1"), control.MediaEvent{Kind: control.EventState}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Error("signal never got mediad's event")
	}
	if err := mdir.Nodes.Delete(ctx, control.NodeKey("m1")); err != nil {
		t.Errorf("mediad withdraws its record: %v", err)
	}
	if err := sig.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := med.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // async errors arrive after the operation
	if v := sigErrs.violations(); len(v) > 0 {
		t.Errorf("signal's own work hit permission violations: %q", v)
	}
	if v := medErrs.violations(); len(v) > 0 {
		t.Errorf("mediad's own work hit permission violations: %q", v)
	}
	if t.Failed() {
		return
	}

	// Forgeries: signal's credentials publish a MediaEvent on a signal node's events subject
	// (mediad's to publish), mediad's a StopRequest to a mediad (signal's). The server drops
	// both: the victim hears nothing, the forger's error handler hears a permissions violation.
	forger, forgerErrs := dialRole(t, creds.Signal, RoleSignal)
	if err := Publish(forger.Conn, control.SignalEventsSubject("s1"), control.MediaEvent{Kind: control.EventState,
		State: control.StateClosed, Info: "forged"}); err != nil {
		t.Fatal(err)
	}
	stops := make(chan *nats.Msg, 4)
	stopSub, err := med.ChanSubscribe(control.MediaSubject("m1", control.OpStop), stops)
	if err != nil {
		t.Fatal(err)
	}
	defer stopSub.Unsubscribe()
	if err := med.Flush(); err != nil {
		t.Fatal(err)
	}
	medForger, medForgerErrs := dialRole(t, creds.Mediad, RoleMediad)
	if err := Publish(medForger.Conn, control.MediaSubject("m1", control.OpStop), control.StopRequest{Info: "forged"}); err != nil {
		t.Fatal(err)
	}
	// A mediad may not read signal's replies, nor publish into the streams bucket.
	if _, err := medForger.SubscribeSync(RoleSignal.InboxPrefix() + ".>"); err != nil {
		t.Fatal(err)
	}
	if err := medForger.Publish("$KV."+control.BucketStreams+"."+key, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_ = forger.Flush()
	_ = medForger.Flush()
	select {
	case m := <-events:
		t.Errorf("signal got a forged event: %s", m.Data)
	case m := <-stops:
		t.Errorf("mediad got a forged stop: %s", m.Data)
	case <-time.After(500 * time.Millisecond):
	}
	waitViolation := func(who string, errs *asyncErrors, subject string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, v := range errs.violations() {
				if strings.Contains(v, subject) {
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%s: no permissions violation for %s; heard %v", who, subject, errs.all())
	}
	waitViolation("signal forging an event", forgerErrs, control.SignalEventsSubject("s1"))
	waitViolation("mediad forging a stop", medForgerErrs, control.MediaSubject("m1", control.OpStop))
	waitViolation("mediad reading signal's inbox", medForgerErrs, RoleSignal.InboxPrefix()+".>")
	waitViolation("mediad writing a stream claim", medForgerErrs, "$KV."+control.BucketStreams)
}

// A long watch (signal's view of the nodes bucket) is an ordered consumer with flow control: the
// server stops delivering until the client answers a flow-control message on $JS.FC.<stream>.…
// Those answers are replies, allowed by Responses; without them the watch stalls after a few MB.
func TestWatchFlowControlUnderPermissions(t *testing.T) {
	_, creds := secured(t)
	sig, sigErrs := dialRole(t, creds.Signal, RoleSignal)
	med, _ := dialRole(t, creds.Mediad, RoleMediad)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mdir, err := OpenDirectory(ctx, med.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sdir, err := OpenDirectory(ctx, sig.Conn, DirectoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sdir.Nodes.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 200
	value := make([]byte, 64<<10) // 200 × 64 KiB: well past the first flow-control point
	puts := make(chan struct{})
	defer func() { <-puts }()
	go func() {
		defer close(puts)
		for i := range n {
			if _, err := mdir.Nodes.Put(ctx, control.NodeKey(fmt.Sprintf("m%d", i)), value); err != nil {
				t.Errorf("put %d: %v", i, err)
				return
			}
		}
	}()
	got := 0
	for got < n {
		select {
		case e := <-w.Updates():
			if e != nil {
				got++
			}
		case <-ctx.Done():
			t.Fatalf("watch stalled after %d of %d updates; signal heard %v", got, n, sigErrs.violations())
		}
	}
	if v := sigErrs.violations(); len(v) > 0 {
		t.Errorf("watch hit permission violations: %q", v)
	}
}

// A server that is down at start is no refusal: Dial returns at once and the link comes up when
// the server does, credentials and all.
func TestDialWaitsForADownServer(t *testing.T) {
	creds, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	if err := creds.SetURLs("nats://" + addr); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := Dial(DialOptions{URL: creds.Mediad.URL, Name: "mediad", InboxPrefix: RoleMediad.InboxPrefix()})
	if err != nil {
		t.Fatalf("Dial to a down server: %v", err)
	}
	defer l.Close()
	if d := time.Since(start); d > time.Second || l.Up() {
		t.Fatalf("Dial took %s, up %v", d, l.Up())
	}
	emb, err := StartEmbedded(EmbeddedOptions{Listen: addr, Users: creds.Users()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for !l.Up() {
		if time.Now().After(deadline) {
			t.Fatal("link never came up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A token is passed as given; a wrong one is refused at once. A seed file that holds no seed is an
// error of Dial, naming the file.
func TestDialTokenAndSeedFile(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, Authorization: "t0ken", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	l, err := Dial(DialOptions{URL: srv.ClientURL(), Name: "token", Auth: ClientAuth{Token: "t0ken"}})
	if err != nil {
		t.Fatalf("Dial with the token: %v", err)
	}
	l.Close()
	if _, err := Dial(DialOptions{URL: srv.ClientURL(), Name: "token", Auth: ClientAuth{Token: "guess"}}); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("Dial with a wrong token: %v, want %v", err, nats.ErrAuthorization)
	}
	seed := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seed, []byte("not a seed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(DialOptions{URL: srv.ClientURL(), Name: "nkey", Auth: ClientAuth{NkeySeedFile: seed}}); err == nil || !strings.Contains(err.Error(), seed) {
		t.Errorf("Dial with a bad seed file: %v, want an error naming %s", err, seed)
	}
}
