package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BucketApps is the cluster's application registry (signal/apps): appKey → rest.App as JSON.
// Only signal nodes use it (RolePermissions).
const BucketApps = "potok_apps"

// OpenBucket binds to the KV bucket name, creating it when the server has none, stored as cfg
// says, with the retries and leader wait of OpenDirectory: for buckets beyond the directory's two
// that are just as shared. It is idempotent, so calling it again after a reconnection re-creates
// a bucket a restarted server lost.
func OpenBucket(ctx context.Context, nc *nats.Conn, name string, cfg DirectoryConfig) (jetstream.KeyValue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	d := &Directory{js: js, cfg: cfg}
	kv, err := d.bucket(ctx, jetstream.KeyValueConfig{Bucket: name, Storage: cfg.Storage, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", name, err)
	}
	return kv, nil
}
