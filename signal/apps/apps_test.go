package apps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/testkit/testwait"
)

// A new cluster has defaultApp (hooks off) and EchoApp (every method, the echo backend), then
// the configuration's apps, normalized; List is sorted by appKey.
func TestBuiltInsAndSeed(t *testing.T) {
	srv := startServer(t, false)
	r := open(t, srv.link("a"), bus.DirectoryConfig{},
		rest.App{Key: "myApp", URL: "http://backend:8080/hooks", Methods: []string{"sendData", "connect", "connect"}})
	def, ok := r.Get(rest.DefaultApp)
	if !ok || def.URL != "" || def.Methods == nil || len(def.Methods) != 0 {
		t.Errorf("defaultApp %+v, %v; want hooks off, methods []", def, ok)
	}
	echo, ok := r.Get(rest.EchoApp)
	if !ok || echo.URL != rest.EchoURL || !slices.Equal(echo.Methods, AllMethods()) || len(echo.Methods) != len(hooks.AllMethods()) {
		t.Errorf("EchoApp %+v, %v; want echo: with every method", echo, ok)
	}
	my, ok := r.Get("myApp")
	if !ok || !slices.Equal(my.Methods, []string{"OnDataEvent", "connect"}) {
		t.Errorf("myApp %+v, %v; want methods [OnDataEvent connect]", my, ok)
	}
	if !Enabled(my, "sendData") || Enabled(my, "publishStream") {
		t.Errorf("Enabled(myApp) wrong for sendData/publishStream")
	}
	var keys []string
	for _, a := range r.List() {
		keys = append(keys, a.Key)
	}
	if want := []string{rest.EchoApp, rest.DefaultApp, "myApp"}; !slices.Equal(keys, want) {
		t.Errorf("List keys %v, want %v", keys, want)
	}
	if _, ok := r.Get("nope"); ok {
		t.Error("Get of an unknown appKey succeeded")
	}
	// The copy handed out is the caller's.
	my.Methods[0] = "changed"
	if again, _ := r.Get("myApp"); again.Methods[0] != "OnDataEvent" {
		t.Error("Get shares its Methods with the registry")
	}
}

// A seed app overrides the built-in of the same key for its first put; an invalid seed app, or
// one listed twice, fails Open.
func TestSeedOverridesBuiltInAndIsChecked(t *testing.T) {
	srv := startServer(t, false)
	r := open(t, srv.link("a"), bus.DirectoryConfig{}, rest.App{Key: rest.DefaultApp, URL: "https://auth.example/hooks", Methods: []string{"connect"}})
	if got := urlOf(r, rest.DefaultApp); got != "https://auth.example/hooks" {
		t.Errorf("defaultApp url %q, want the configuration's", got)
	}
	for _, seed := range [][]rest.App{
		{{Key: "bad key"}},
		{{Key: "twice"}, {Key: "twice"}},
	} {
		_, err := Open(testCtx(t), srv.link("b"), bus.DirectoryConfig{}, seed, r.log)
		if !errors.Is(err, rest.ErrInvalid) {
			t.Errorf("Open with seed %+v: %v, want ErrInvalid", seed, err)
		}
	}
}

// Two signal nodes on one NATS: what one adds, updates or removes, the other serves.
func TestTwoNodesSeeEachOther(t *testing.T) {
	srv := startServer(t, false)
	a := open(t, srv.link("a"), bus.DirectoryConfig{})
	b := open(t, srv.link("b"), bus.DirectoryConfig{})
	ctx := testCtx(t)
	if err := a.Add(ctx, rest.App{Key: "shop", URL: "http://shop/hooks", Methods: []string{"connect"}}); err != nil {
		t.Fatal(err)
	}
	if urlOf(a, "shop") != "http://shop/hooks" {
		t.Error("the writer does not see its own add at once")
	}
	testwait.Until(t, 5*time.Second, "b sees shop", func() bool { return urlOf(b, "shop") == "http://shop/hooks" })
	if err := b.Update(ctx, "shop", func(app *rest.App) error { app.URL = rest.EchoURL; return nil }); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "a sees the update", func() bool { return urlOf(a, "shop") == rest.EchoURL })
	if err := a.Remove(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if urlOf(a, "shop") != "-" {
		t.Error("the writer still serves a removed app")
	}
	testwait.Until(t, 5*time.Second, "b sees the removal", func() bool { return urlOf(b, "shop") == "-" })
	// Added again after a removal: a new app.
	if err := b.Add(ctx, rest.App{Key: "shop"}); err != nil {
		t.Fatalf("add after remove: %v", err)
	}
	testwait.Until(t, 5*time.Second, "a sees shop again", func() bool { return urlOf(a, "shop") == "" })
}

// Updates from two nodes at once, each on the value it read: none is lost.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	srv := startServer(t, false)
	a := open(t, srv.link("a"), bus.DirectoryConfig{})
	b := open(t, srv.link("b"), bus.DirectoryConfig{})
	ctx := testCtx(t)
	if err := a.Add(ctx, rest.App{Key: "counter"}); err != nil {
		t.Fatal(err)
	}
	const each = 8
	var wg sync.WaitGroup
	for i, r := range []*Registry{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				mark := fmt.Sprintf("[%d.%d]", i, j)
				if err := r.Update(ctx, "counter", func(app *rest.App) error { app.Name += mark; return nil }); err != nil {
					t.Errorf("update %s: %v", mark, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range []*Registry{a, b} {
		testwait.UntilOK(t, 5*time.Second, "every update in the copy", func() error {
			app, _ := r.Get("counter")
			if n := strings.Count(app.Name, "["); n != 4*each {
				return fmt.Errorf("%d updates in %q, want %d", n, app.Name, 4*each)
			}
			return nil
		})
	}
}

// What the registry refuses, and how it says so.
func TestWriteErrors(t *testing.T) {
	srv := startServer(t, false)
	r := open(t, srv.link("a"), bus.DirectoryConfig{})
	ctx := testCtx(t)
	cases := []struct {
		name string
		err  error
		want error
		says string
	}{
		{"add an existing app", r.Add(ctx, rest.App{Key: rest.EchoApp}), rest.ErrConflict, rest.EchoApp},
		{"add an invalid app", r.Add(ctx, rest.App{Key: "x", Methods: []string{"bogus"}}), rest.ErrInvalid, `unknown hook method "bogus"`},
		{"update a missing app", r.Update(ctx, "nope", func(*rest.App) error { return nil }), rest.ErrNotFound, "nope"},
		{"update into an invalid app", r.Update(ctx, rest.EchoApp, func(a *rest.App) error { a.URL = "ftp://x"; return nil }), rest.ErrInvalid, `url "ftp://x"`},
		{"change an appKey", r.Update(ctx, rest.EchoApp, func(a *rest.App) error { a.Key = "other"; return nil }), rest.ErrInvalid, "cannot change"},
		{"remove a missing app", r.Remove(ctx, "nope"), rest.ErrNotFound, "nope"},
		{"remove an invalid key", r.Remove(ctx, "no..pe"), rest.ErrNotFound, "no..pe"},
		{"remove defaultApp", r.Remove(ctx, rest.DefaultApp), rest.ErrInvalid, "default appKey"},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) || !strings.Contains(fmt.Sprint(tc.err), tc.says) {
			t.Errorf("%s: %v; want %v saying %q", tc.name, tc.err, tc.want, tc.says)
		}
	}
	sentinel := errors.New("refused by the caller")
	if err := r.Update(ctx, rest.EchoApp, func(*rest.App) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Errorf("update whose change fails: %v, want the change's error", err)
	}
	if echo, _ := r.Get(rest.EchoApp); echo.URL != rest.EchoURL {
		t.Errorf("a refused update changed EchoApp: %+v", echo)
	}
	if err := r.Remove(ctx, rest.EchoApp); err != nil {
		t.Errorf("remove EchoApp: %v (built-ins other than defaultApp may go, as in WCS)", err)
	}
}

// On file storage the registry outlives a NATS restart, and the configuration's seed, given
// again, changes nothing an operator changed at runtime: an updated app keeps its update, removed
// apps (built-in or seeded) stay removed.
func TestSeedDoesNotOverwriteRuntimeChanges(t *testing.T) {
	srv := startServer(t, false)
	cfg := bus.DirectoryConfig{Storage: jetstream.FileStorage}
	seed := []rest.App{{Key: "a", URL: "http://one/"}, {Key: "b", URL: "http://two/"}}
	r := open(t, srv.link("first"), cfg, seed...)
	ctx := testCtx(t)
	if err := r.Update(ctx, "a", func(app *rest.App) error { app.URL = "http://changed/"; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", rest.EchoApp} {
		if err := r.Remove(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	srv.stop()
	srv.start()
	r2 := open(t, srv.link("second"), cfg, append(seed, rest.App{Key: "c", URL: "http://three/"})...)
	for key, want := range map[string]string{"a": "http://changed/", "b": "-", rest.EchoApp: "-", rest.DefaultApp: "", "c": "http://three/"} {
		if got := urlOf(r2, key); got != want {
			t.Errorf("after restart, %s: url %q, want %q", key, got, want)
		}
	}
}

// While NATS is unreachable the copy answers and writes fail at once with ErrUnavailable. A
// restarted in-memory server has lost the bucket: the registry puts it back from its copy.
func TestUnreachableControlPlane(t *testing.T) {
	srv := startServer(t, true)
	l := srv.dial("a")
	r := open(t, l, bus.DirectoryConfig{})
	ctx := testCtx(t)
	if err := r.Add(ctx, rest.App{Key: "kept", URL: "http://kept/"}); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	testwait.Until(t, 10*time.Second, "link down", func() bool { return !l.Up() })
	if urlOf(r, "kept") != "http://kept/" || urlOf(r, rest.DefaultApp) != "" {
		t.Error("the copy stopped answering while NATS is down")
	}
	start := time.Now()
	err := r.Add(ctx, rest.App{Key: "new"})
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
		t.Errorf("add while down: %v after %s; want ErrUnavailable at once", err, time.Since(start))
	}
	if err := r.Update(ctx, "kept", func(*rest.App) error { return nil }); !errors.Is(err, ErrUnavailable) {
		t.Errorf("update while down: %v, want ErrUnavailable", err)
	}
	srv.start() // memory storage: no bucket any more
	testwait.UntilOK(t, 15*time.Second, "writes again", func() error { return r.Add(ctx, rest.App{Key: "new"}) })
	other := open(t, srv.link("b"), bus.DirectoryConfig{})
	testwait.Until(t, 5*time.Second, "the restored registry", func() bool {
		return urlOf(other, "kept") == "http://kept/" && urlOf(other, rest.EchoApp) == rest.EchoURL && urlOf(other, "new") == ""
	})
}
