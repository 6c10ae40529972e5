package apps

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
)

// retryEvery is how often a failed watch or re-assertion is tried again while the link is up.
const retryEvery = 2 * time.Second

// watch keeps the copy fed from the bucket. A watcher does not survive its bucket being
// re-created by a restarted server, so a new one is started whenever rewatch says so (after
// every re-assertion), or when the old one ends. Each new watcher's initial values replace the
// copy as a whole once all are in: until then the old copy answers.
func (r *Registry) watch(ctx context.Context, rewatch <-chan struct{}) {
	for ctx.Err() == nil {
		w, err := r.kv.WatchAll(ctx)
		if err != nil {
			r.log.Debug().Err(err).Msg("watch apps")
			select {
			case <-ctx.Done():
				return
			case <-rewatch:
			case <-time.After(retryEvery):
			}
			continue
		}
		r.consume(ctx, w, rewatch)
	}
}

// consume applies one watcher's values until it ends, ctx ends or rewatch asks for a new one.
func (r *Registry) consume(ctx context.Context, w jetstream.KeyWatcher, rewatch <-chan struct{}) {
	defer func() { _ = w.Stop() }()
	snapshot := map[string]entry{} // nil once the initial values are in
	for {
		select {
		case <-ctx.Done():
			return
		case <-rewatch:
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			switch {
			case e == nil && snapshot != nil:
				r.mu.Lock()
				r.apps = snapshot
				r.mu.Unlock()
				snapshot = nil
				r.once.Do(func() { close(r.ready) })
			case e == nil:
			case snapshot != nil:
				if en, ok := r.decode(e); ok {
					snapshot[e.Key()] = en
				}
			default:
				if en, ok := r.decode(e); ok {
					r.set(e.Key(), en)
				}
			}
		}
	}
}

// decode turns a watched entry into an entry of the copy; a value that is no app is logged and
// skipped (someone wrote the bucket by hand).
func (r *Registry) decode(e jetstream.KeyValueEntry) (entry, bool) {
	if e.Operation() != jetstream.KeyValuePut {
		return entry{rev: e.Revision(), deleted: true}, true
	}
	var app rest.App
	if err := json.Unmarshal(e.Value(), &app); err != nil {
		r.log.Warn().Err(err).Str("appKey", e.Key()).Msg("malformed app in the registry, ignored")
		return entry{}, false
	}
	app.Key = e.Key()
	return entry{app: app, rev: e.Revision()}, true
}

// set records en for key unless the copy already has a later revision of it (this node's own
// write, recorded when it returned, arrives again through the watcher).
func (r *Registry) set(key string, en entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.apps[key]; ok && old.rev >= en.rev {
		return
	}
	r.apps[key] = en
}

// follow re-asserts the registry after every reconnection, and again while the last attempt
// failed: a restarted server may have lost the bucket (in-memory storage).
func (r *Registry) follow(ctx context.Context, events <-chan bus.LinkEvent, rewatch chan<- struct{}) {
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev == bus.LinkUp {
				pending = !r.reassert(ctx, rewatch)
			}
		case <-retry.C:
			if pending && r.link.Up() {
				pending = !r.reassert(ctx, rewatch)
			}
		}
	}
}

// reassert verifies the bucket, re-creating it if the server lost it; a bucket that lost its
// contents gets back every app of this node's copy and the seed it never held, so that a
// restarted in-memory server does not forget the cluster's apps (an app removed meanwhile by a
// node this one did not hear from can come back). Then the watcher is restarted.
func (r *Registry) reassert(ctx context.Context, rewatch chan<- struct{}) bool {
	rctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if _, err := bus.OpenBucket(rctx, r.link.Conn, bus.BucketApps, r.bcfg); err != nil {
		r.log.Warn().Err(err).Msg("application registry not usable yet")
		return false
	}
	lost, err := r.lost(rctx)
	if err != nil {
		r.log.Warn().Err(err).Msg("application registry not usable yet")
		return false
	}
	if lost {
		r.mu.RLock()
		var live []rest.App
		for _, e := range r.apps {
			if !e.deleted {
				live = append(live, e.app)
			}
		}
		r.mu.RUnlock()
		if err := r.plant(rctx, append(live, r.unseen(r.seed)...)); err != nil {
			r.log.Warn().Err(err).Msg("application registry not restored yet")
			return false
		}
		r.log.Warn().Int("apps", len(live)).Msg("application registry lost by the NATS server: restored from this node's copy")
	}
	r.link.Reasserted("apps")
	select {
	case rewatch <- struct{}{}:
	default:
	}
	return true
}

// lost reports whether the bucket has lost its contents: it has no defaultApp, which is put at
// Open and cannot be removed, so only a re-created bucket (or a hand-made deletion) lacks it.
// Unlike "the bucket is empty", it stays true while other writes land in the new bucket.
func (r *Registry) lost(ctx context.Context) (bool, error) {
	_, err := r.kv.Get(ctx, rest.DefaultApp)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, nil
	}
	return false, err
}

// unseen are the apps whose key the copy has never seen, not even removed.
func (r *Registry) unseen(apps []rest.App) []rest.App {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []rest.App
	for _, a := range apps {
		if _, ok := r.apps[a.Key]; !ok {
			out = append(out, a)
		}
	}
	return out
}

// plant creates each app whose key has no value; a key another node filled meanwhile is left
// as that node put it.
func (r *Registry) plant(ctx context.Context, apps []rest.App) error {
	for _, a := range apps {
		err := r.create(ctx, a)
		// A bucket just created on a JetStream cluster answers no write until its replicas
		// have elected a leader: try again within ctx rather than fail the node's start.
		for errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			err = r.create(ctx, a)
		}
		if err != nil && !errors.Is(err, rest.ErrConflict) {
			return err
		}
		if err == nil {
			r.log.Info().Str("appKey", a.Key).Str("url", a.URL).Msg("app put into the registry")
		}
	}
	return nil
}
