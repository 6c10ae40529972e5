package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
)

// Directory is the JetStream KV view shared by every node.
type Directory struct {
	Nodes   jetstream.KeyValue
	Streams jetstream.KeyValue
	js      jetstream.JetStream
	cfg     DirectoryConfig
}

// DirectoryConfig is how the directory buckets are stored.
type DirectoryConfig struct {
	// Storage: jetstream.MemoryStorage (the zero value; the embedded default: nothing outlives
	// the process) or jetstream.FileStorage (an external server keeps the directory across its
	// own restarts).
	Storage jetstream.StorageType
	// Replicas of each bucket on a JetStream cluster (3 on a three-server cluster); 0 = 1.
	Replicas int
}

// OpenDirectory creates (or binds to) the directory buckets. Creating is idempotent, so every node
// calls it at start and the first one wins.
func OpenDirectory(ctx context.Context, nc *nats.Conn, cfg DirectoryConfig) (*Directory, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	d := &Directory{js: js, cfg: cfg}
	if d.Nodes, d.Streams, err = d.create(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Ensure creates the buckets again if the server lost them (a restarted server with in-memory
// buckets has none) or verifies that they are there. Nodes call it after every reconnection and
// when a directory operation fails, before re-asserting their own records.
// The KeyValue handles opened first stay valid: they address the buckets by name.
func (d *Directory) Ensure(ctx context.Context) error {
	_, _, err := d.create(ctx)
	return err
}

func (d *Directory) create(ctx context.Context) (nodes, streams jetstream.KeyValue, err error) {
	nodes, err = d.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketNodes, TTL: control.NodeTTL, Storage: d.cfg.Storage, Replicas: d.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bus: bucket %s: %w", control.BucketNodes, err)
	}
	streams, err = d.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketStreams, Storage: d.cfg.Storage, Replicas: d.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bus: bucket %s: %w", control.BucketStreams, err)
	}
	return nodes, streams, nil
}

// PurgeStreamTombstones removes the delete markers that released stream names leave behind, once
// they are older than olderThan, and returns how many went. Without it every name ever published
// stays in the bucket's memory. Unlike KeyValue.PurgeDeletes it purges each key only up to its
// marker's sequence, so a name claimed again in the meantime is never removed.
func (d *Directory) PurgeStreamTombstones(ctx context.Context, olderThan time.Duration) (int, error) {
	w, err := d.Streams.WatchAll(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: watch streams: %w", err)
	}
	limit := time.Now().Add(-olderThan)
	var markers []jetstream.KeyValueEntry
	for e := range w.Updates() {
		if e == nil {
			break // initial values delivered
		}
		if op := e.Operation(); (op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge) && e.Created().Before(limit) {
			markers = append(markers, e)
		}
	}
	_ = w.Stop()
	if len(markers) == 0 {
		return 0, nil
	}
	stream, err := d.js.Stream(ctx, "KV_"+control.BucketStreams)
	if err != nil {
		return 0, fmt.Errorf("bus: streams bucket: %w", err)
	}
	for i, e := range markers {
		err := stream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+control.BucketStreams+"."+e.Key()),
			jetstream.WithPurgeSequence(e.Revision()+1))
		if err != nil {
			return i, fmt.Errorf("bus: purge tombstone %s: %w", e.Key(), err)
		}
	}
	return len(markers), nil
}
