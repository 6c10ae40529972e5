package bus

import (
	"context"
	"errors"
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
	nodes, err = d.bucket(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketNodes, TTL: control.NodeTTL, Storage: d.cfg.Storage, Replicas: d.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bus: bucket %s: %w", control.BucketNodes, err)
	}
	streams, err = d.bucket(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketStreams, Storage: d.cfg.Storage, Replicas: d.cfg.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bus: bucket %s: %w", control.BucketStreams, err)
	}
	return nodes, streams, nil
}

// Requests about a replicated stream that has no leader (being created, or electing one after
// its leader's server died) go unanswered by nats-server 2.9 until they time out; the next one
// is answered once a leader is there. So each directory request of Ensure and OpenDirectory gets
// attemptTimeout and is repeated within the caller's deadline (openTimeout when it has none),
// instead of one request waiting out the whole deadline.
// A request a leader can answer takes milliseconds; creating a bucket a few hundred (an attempt
// that times out meanwhile finds it created at the next).
const (
	attemptTimeout = time.Second
	openTimeout    = 15 * time.Second
)

// bucket binds to cfg's bucket, creating it when the server has none, and retries what failed
// for want of an answer until ctx ends.
func (d *Directory) bucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		kv, err := d.bindOrCreate(actx, cfg)
		cancel()
		if err == nil || !(Unanswered(err) || justCreated(err)) || ctx.Err() != nil {
			return kv, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// bindOrCreate binds to an existing bucket, or creates it, and returns it once its stream has a
// leader: a replicated stream just created answers no write until its replicas have elected one,
// and a node's first heartbeat follows at once. An existing bucket is updated only when its
// replicas or TTL differ from cfg (a changed --nats-kv-replicas), never when unchanged: a stream
// update that races the creation of a replicated stream leaves both unanswered on nats-server
// 2.9 (every node starting at once against a fresh cluster timed out), and Ensure runs after
// every reconnection.
func (d *Directory) bindOrCreate(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := d.js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = d.js.CreateKeyValue(ctx, cfg)
		if createdMeanwhile(err) {
			kv, err = d.bindCreated(ctx, cfg.Bucket, err)
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return kv, nil
	}
	info := bs.StreamInfo()
	if c := info.Config; c.Replicas != cfg.Replicas || c.MaxAge != cfg.TTL {
		return d.js.UpdateKeyValue(ctx, cfg)
	}
	if info.Cluster != nil && info.Cluster.Leader == "" {
		return nil, errNoLeader
	}
	return kv, nil
}

// createdMeanwhile reports whether a bucket creation failed because the bucket's stream came
// into being since the lookup before it: another node created it ("bucket exists"), or (on
// nats-server 2.9, whose stream creation checks names and subjects apart) a creation that raced
// ours, or our own earlier attempt that timed out while the server went on with it, made the
// subjects taken ("subjects overlap with an existing stream", 10065). CI saw the second when
// two mediads started at once against a fresh server: one exited at start.
func createdMeanwhile(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrBucketExists) ||
		errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeSubjectOverlap
}

// justCreated reports a "stream not found" (10059) about a bucket that the lookup before found
// absent and the creation just made, or that another node's creation is making: a replicated
// stream is not known to every server at once on nats-server 2.9, so the request after a
// creation race can miss it (two signal nodes started together against a fresh cluster, one
// exited). The next attempt finds it.
func justCreated(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound
}

// jsErrCodeSubjectOverlap is JetStream's "subjects overlap with an existing stream".
const jsErrCodeSubjectOverlap jetstream.ErrorCode = 10065

// bindCreated binds to a bucket whose creation failed with createErr as created meanwhile. When
// there is still no such bucket, the subjects belong to a stream that is no bucket of ours (an
// operator's stream over $KV.<bucket>.>): that is a refusal, said as such.
func (d *Directory) bindCreated(ctx context.Context, bucket string, createErr error) (jetstream.KeyValue, error) {
	kv, err := d.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("another stream on this NATS server holds the subjects of bucket %s: %w", bucket, createErr)
	}
	return kv, err
}

// errNoLeader: the bucket's stream has no leader yet (Unanswered: try again).
var errNoLeader = errors.New("bus: the bucket's stream has no leader yet")

// Unanswered reports whether a JetStream error means the cluster could not answer yet (a stream
// or the meta group without a leader, during a NATS server's failover), not that it refused: the
// same request may succeed a few seconds later.
func Unanswered(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, errNoLeader) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.As(err, &apiErr) && apiErr.Code == 503
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
