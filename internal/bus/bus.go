// Package bus is Potok's NATS plumbing: the embedded server of the all-in-one default, client
// connections, the JetStream KV directory buckets and a small typed request/reply helper.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/potok-media/potok/api/control"
)

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	// Listen is host:port for other processes to join ("" = in-process only, no socket).
	Listen string
	// StoreDir is JetStream's directory; buckets are in memory, but the server wants one. "" = temp.
	StoreDir string
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv     *server.Server
	tempDir string
}

// StartEmbedded starts a NATS server inside this process and waits until it accepts clients.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	e := &Embedded{}
	dir := o.StoreDir
	if dir == "" {
		d, err := os.MkdirTemp("", "potok-nats-")
		if err != nil {
			return nil, fmt.Errorf("bus: jetstream dir: %w", err)
		}
		dir, e.tempDir = d, d
	}
	opts := &server.Options{
		ServerName:             "potok-embedded",
		JetStream:              true,
		JetStreamMaxMemory:     256 << 20,
		StoreDir:               dir,
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, err
		}
		if port == 0 {
			port = -1 // nats-server: -1 picks a free port, 0 would mean 4222
		}
		opts.Host, opts.Port = host, port
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.cleanup()
		return nil, fmt.Errorf("bus: embedded nats: %w", err)
	}
	e.srv = srv
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		e.Shutdown()
		return nil, errors.New("bus: embedded nats did not become ready in 10s")
	}
	return e, nil
}

// Connect opens a client connection to the embedded server (in-process, no socket).
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("bus: connect in-process: %w", err)
	}
	return nc, nil
}

// ClientURL is the URL other processes use, or "" when the server does not listen.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Shutdown stops the server and removes its temporary directory.
func (e *Embedded) Shutdown() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	e.cleanup()
}

func (e *Embedded) cleanup() {
	if e.tempDir != "" {
		_ = os.RemoveAll(e.tempDir)
	}
}

// Connect dials an external NATS server or cluster (comma-separated URLs).
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	return nc, nil
}

// Directory is the JetStream KV view shared by every node.
type Directory struct {
	Nodes   jetstream.KeyValue
	Streams jetstream.KeyValue
	js      jetstream.JetStream
}

// OpenDirectory creates (or binds to) the directory buckets. Creating is idempotent, so every node
// calls it at start and the first one wins.
func OpenDirectory(ctx context.Context, nc *nats.Conn) (*Directory, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	nodes, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketNodes, TTL: control.NodeTTL, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", control.BucketNodes, err)
	}
	streams, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: control.BucketStreams, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", control.BucketStreams, err)
	}
	return &Directory{Nodes: nodes, Streams: streams, js: js}, nil
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

// Request sends a JSON request and decodes the JSON reply into out.
func Request(ctx context.Context, nc *nats.Conn, subject string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("bus: encode request to %s: %w", subject, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, control.RequestTimeout)
		defer cancel()
	}
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return fmt.Errorf("bus: request %s: %w", subject, err)
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("bus: decode reply from %s: %w", subject, err)
	}
	return nil
}

// Reply answers a request message with a JSON body; failures are returned for the caller to log.
func Reply(msg *nats.Msg, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bus: encode reply: %w", err)
	}
	return msg.Respond(body)
}

// Publish sends a JSON event.
func Publish(nc *nats.Conn, subject string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bus: encode event for %s: %w", subject, err)
	}
	return nc.Publish(subject, body)
}
