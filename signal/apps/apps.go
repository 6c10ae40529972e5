// Package apps is the cluster's application registry (docs/protocol.md §F.2): what a client's
// appKey selects, kept in the JetStream KV bucket bus.BucketApps so that every signal node serves
// the same apps, and changes made through any node's REST API reach all of them.
//
// Each node watches the bucket and keeps a copy in memory: Get, asked on every WebSocket
// connection, is a map lookup, and goes on answering from the copy while NATS is unreachable.
// Writes need the control plane and fail with ErrUnavailable without it.
//
// Seeding: at Open, the built-in apps (defaultApp, EchoApp) and the apps of the configuration are
// put into the bucket only when the bucket has never held their key. The configuration never
// overwrites a runtime change, and an app removed at runtime stays removed across restarts (its
// delete marker remembers it). An app of the configuration with a built-in's key replaces the
// built-in's definition for that first put.
package apps

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
)

// ErrUnavailable: the registry cannot be changed now, the control plane (NATS or its JetStream)
// being unreachable. Reads go on from the node's copy.
var ErrUnavailable = fmt.Errorf("apps: the control plane is unreachable, the application registry cannot be changed now: %w", rest.ErrUnavailable)

// BuiltIns are the apps every cluster has (rest.DefaultApp, rest.EchoApp): defaultApp with hooks
// off, the WebSDK's default appKey; EchoApp with every method answered by the echo backend, so
// that a fresh install behaves like WCS with its EchoApp.
func BuiltIns() []rest.App {
	return []rest.App{
		{Key: rest.DefaultApp, URL: "", Methods: []string{}},
		{Key: rest.EchoApp, URL: rest.EchoURL, Methods: AllMethods()},
	}
}

// Registry is one node's view of the application registry.
type Registry struct {
	link *bus.Link
	kv   jetstream.KeyValue // stays valid when a restarted server re-creates the bucket: it addresses it by name
	bcfg bus.DirectoryConfig
	seed []rest.App // built-ins overridden by the configuration's apps, normalized
	log  zerolog.Logger

	mu    sync.RWMutex
	apps  map[string]entry // by appKey, delete markers included
	ready chan struct{}    // closed once the first watch has delivered the bucket's contents
	once  sync.Once

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// entry is the last known state of one key: an app, or a delete marker (deleted) that keeps the
// seed from putting back an app removed at runtime.
type entry struct {
	app     rest.App
	rev     uint64
	deleted bool
}

// openTimeout bounds Open's wait for the bucket's contents when ctx has no deadline.
const openTimeout = 15 * time.Second

// Open binds to (or creates) the registry's bucket, loads it, puts the built-ins and seed where
// the bucket has never held their key, and keeps the copy up to date until Close. An invalid
// seed app is an error: it is the operator's configuration.
func Open(ctx context.Context, link *bus.Link, cfg bus.DirectoryConfig, seed []rest.App, log zerolog.Logger) (*Registry, error) {
	initial, err := seedApps(seed)
	if err != nil {
		return nil, fmt.Errorf("apps: configuration: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	kv, err := bus.OpenBucket(ctx, link.Conn, bus.BucketApps, cfg)
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	r := &Registry{link: link, kv: kv, bcfg: cfg, seed: initial, log: log.With().Str("component", "apps").Logger(),
		apps: map[string]entry{}, ready: make(chan struct{})}
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	events := link.Watch()
	rewatch := make(chan struct{}, 1)
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.watch(runCtx, rewatch) }()
	go func() { defer r.wg.Done(); r.follow(runCtx, events, rewatch) }()
	select {
	case <-r.ready:
	case <-ctx.Done():
		r.Close()
		return nil, fmt.Errorf("apps: loading bucket %s: %w", bus.BucketApps, ctx.Err())
	}
	if err := r.plant(ctx, r.unseen(r.seed)); err != nil {
		r.Close()
		return nil, fmt.Errorf("apps: seeding: %w", err)
	}
	return r, nil
}

// seedApps are the built-ins, each replaced by the configuration's app of the same key, then the
// configuration's other apps, all normalized; a key given twice is an error.
func seedApps(cfg []rest.App) ([]rest.App, error) {
	byKey := map[string]rest.App{}
	for _, a := range BuiltIns() {
		byKey[a.Key] = a
	}
	seen := map[string]bool{}
	for _, a := range cfg {
		n, err := Normalize(a)
		if err != nil {
			return nil, err
		}
		if seen[n.Key] {
			return nil, fmt.Errorf("%w: app %s is listed twice", rest.ErrInvalid, n.Key)
		}
		seen[n.Key] = true
		byKey[n.Key] = n
	}
	return sortedApps(slices.Collect(maps.Values(byKey))), nil
}

// Close stops following the bucket. Get and List go on answering from the last copy.
func (r *Registry) Close() {
	r.cancel()
	r.wg.Wait()
}

// Get returns the app of key from this node's copy; no NATS round trip. The App is the
// caller's to keep: its slices and map are not shared with the registry.
func (r *Registry) Get(key string) (rest.App, bool) {
	r.mu.RLock()
	e, ok := r.apps[key]
	r.mu.RUnlock()
	if !ok || e.deleted {
		return rest.App{}, false
	}
	return clone(e.app), true
}

// List returns every app of this node's copy, sorted by appKey.
func (r *Registry) List() []rest.App {
	r.mu.RLock()
	out := make([]rest.App, 0, len(r.apps))
	for _, e := range r.apps {
		if !e.deleted {
			out = append(out, clone(e.app))
		}
	}
	r.mu.RUnlock()
	return sortedApps(out)
}

func sortedApps(a []rest.App) []rest.App {
	slices.SortFunc(a, func(x, y rest.App) int { return cmp.Compare(x.Key, y.Key) })
	return a
}

func clone(a rest.App) rest.App {
	a.Methods = slices.Clone(a.Methods)
	if a.Methods == nil {
		a.Methods = []string{} // "methods": [] on the wire, never null
	}
	a.Defaults = maps.Clone(a.Defaults)
	return a
}
