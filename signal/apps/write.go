package apps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
)

// writeTimeout bounds a write whose ctx has no deadline.
const writeTimeout = 5 * time.Second

// updateAttempts bounds Update's retries on a concurrent change: each lost race means another
// writer succeeded, so running out takes that many writers at once on one app (the REST API and
// potok apps of a whole operations team would not come near). A lost race waits a jittered
// moment before the next read, so that many writers spread instead of colliding again.
const updateAttempts = 64

// Add puts a new app into the registry. An app of that key is rest.ErrConflict; an invalid one
// wraps rest.ErrInvalid with the reason.
func (r *Registry) Add(ctx context.Context, app rest.App) error {
	app, err := Normalize(app)
	if err != nil {
		return err
	}
	ctx, cancel, err := r.writable(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return r.create(ctx, app)
}

// create puts app (normalized) where its key has no value.
func (r *Registry) create(ctx context.Context, app rest.App) error {
	b, err := json.Marshal(app)
	if err != nil {
		return fmt.Errorf("apps: encode %s: %w", app.Key, err)
	}
	rev, err := r.kv.Create(ctx, app.Key, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("app %s: %w", app.Key, rest.ErrConflict)
	}
	if err != nil {
		return r.failed("add", app.Key, err)
	}
	r.set(app.Key, entry{app: app, rev: rev})
	return nil
}

// Update changes the app of key with change, which gets the registry's current value (not this
// node's copy) and may not change its key. Concurrent updates of one app do not lose each other:
// the write is conditional on the revision read, and on a conflict change runs again on the
// newer value. A missing app is rest.ErrNotFound; an error of change is returned as it is.
func (r *Registry) Update(ctx context.Context, key string, change func(*rest.App) error) error {
	ctx, cancel, err := r.writable(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for range updateAttempts {
		e, err := r.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
			return fmt.Errorf("app %s: %w", key, rest.ErrNotFound)
		}
		if err != nil {
			return r.failed("update", key, err)
		}
		var app rest.App
		if err := json.Unmarshal(e.Value(), &app); err != nil {
			return fmt.Errorf("apps: app %s in the registry is malformed: %w", key, err)
		}
		app.Key = key
		if err := change(&app); err != nil {
			return err
		}
		if app.Key != key {
			return invalid("the appKey of app %s cannot change (to %q): remove it and add the new one", key, app.Key)
		}
		if app, err = Normalize(app); err != nil {
			return err
		}
		b, err := json.Marshal(app)
		if err != nil {
			return fmt.Errorf("apps: encode %s: %w", key, err)
		}
		rev, err := r.kv.Update(ctx, key, b, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			// Changed by someone else since the read: again, on their value.
			select {
			case <-ctx.Done():
				return r.failed("update", key, ctx.Err())
			case <-time.After(time.Duration(rand.IntN(5)+1) * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return r.failed("update", key, err)
		}
		r.set(key, entry{app: app, rev: rev})
		return nil
	}
	return fmt.Errorf("apps: update %s: still changed by others after %d attempts", key, updateAttempts)
}

// Remove deletes the app of key. defaultApp cannot be removed (rest.ErrInvalid): it is the
// WebSDK's default appKey, so a page that names none would be refused; turn its hooks off
// instead. The other built-ins can, as in WCS, and stay removed across restarts.
func (r *Registry) Remove(ctx context.Context, key string) error {
	if key == rest.DefaultApp {
		return invalid("app %s cannot be removed: it is the WebSDK's default appKey (its hooks can be turned off)", key)
	}
	ctx, cancel, err := r.writable(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return fmt.Errorf("app %s: %w", key, rest.ErrNotFound)
	}
	if err != nil {
		return r.failed("remove", key, err)
	}
	// Conditional on the revision read: a removal never deletes a value it has not seen.
	err = r.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("apps: remove %s: changed meanwhile by another request, try again", key)
	}
	if err != nil {
		return r.failed("remove", key, err)
	}
	// The marker's revision is not returned; the watcher brings it. Until then the copy is
	// ahead of it by one, which set's revision check tolerates.
	r.set(key, entry{rev: e.Revision() + 1, deleted: true})
	return nil
}

// writable refuses a write at once while the link is down (it would only wait for its timeout)
// and bounds ctx.
func (r *Registry) writable(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !r.link.Up() {
		return ctx, func() {}, ErrUnavailable
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	return ctx, cancel, nil
}

// failed wraps a KV error of op on key: one that means the control plane could not answer is
// ErrUnavailable.
func (r *Registry) failed(op, key string, err error) error {
	if bus.Unanswered(err) || !r.link.Up() {
		return fmt.Errorf("%w (%s %s: %v)", ErrUnavailable, op, key, err)
	}
	return fmt.Errorf("apps: %s %s: %w", op, key, err)
}
