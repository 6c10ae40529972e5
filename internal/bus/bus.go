// Package bus is Potok's NATS plumbing: the embedded server of the all-in-one default, client
// connections and their health (Link), the JetStream KV directory buckets and a small typed
// request/reply helper.
package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
)

// DialOptions configure a connection to an external NATS server or cluster.
type DialOptions struct {
	URL  string // one URL or several, comma-separated
	Name string // the client name NATS shows
	Link LinkConfig
}

// Dial connects to an external NATS server or cluster and returns the process's Link. It never
// gives up: a server that is down at start or later is retried every 500 ms, and the Link tells
// the tiers how long it has been gone.
func Dial(o DialOptions) (*Link, error) {
	l, err := newLink(o.Link)
	if err != nil {
		return nil, err
	}
	opts := append([]nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500 * time.Millisecond)}, l.handlers()...)
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", o.URL, err)
	}
	l.start(nc)
	return l, nil
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
