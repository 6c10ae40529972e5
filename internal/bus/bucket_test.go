package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// What signal/apps does with the application registry under the signal role's permissions:
// create the bucket (the first signal node), bind to it again, watch it, create, update with a
// revision, read and delete keys. Each operation a permission blocks fails (a denied JetStream
// request is never answered, a denied KV publish never acknowledged).
func TestAppsBucketUnderSignalPermissions(t *testing.T) {
	_, creds := secured(t)
	sig, sigErrs := dialRole(t, creds.Signal, RoleSignal)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := OpenBucket(ctx, sig.Conn, BucketApps, DirectoryConfig{})
	if err != nil {
		t.Fatalf("create %s: %v; async errors %v", BucketApps, err, sigErrs.all())
	}
	if _, err := OpenBucket(ctx, sig.Conn, BucketApps, DirectoryConfig{}); err != nil {
		t.Fatalf("bind %s: %v", BucketApps, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	rev, err := kv.Create(ctx, "myApp", []byte(`{"appKey":"myApp"}`))
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	if _, err := kv.Update(ctx, "myApp", []byte(`{"appKey":"myApp","url":"echo:"}`), rev); err != nil {
		t.Fatalf("update key: %v", err)
	}
	if _, err := kv.Get(ctx, "myApp"); err != nil {
		t.Fatalf("get key: %v", err)
	}
	if _, err := kv.Status(ctx); err != nil {
		t.Fatalf("status: %v", err)
	}
	if err := kv.Delete(ctx, "myApp"); err != nil {
		t.Fatalf("delete key: %v", err)
	}
	for seen := 0; seen < 3; {
		select {
		case e := <-w.Updates():
			if e != nil {
				seen++
				if seen == 3 && e.Operation() != jetstream.KeyValueDelete {
					t.Fatalf("third update %v, want a delete", e.Operation())
				}
			}
		case <-ctx.Done():
			// A stalled watch under permissions is most often one they refuse (a consumer
			// re-created after a missed heartbeat): say which.
			t.Fatalf("watch saw %d of 3 updates; permission violations: %q", seen, sigErrs.violations())
		}
	}
	if v := sigErrs.violations(); len(v) > 0 {
		t.Errorf("permission violations: %q", v)
	}
}
