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
	URL  string // one URL or several, comma-separated; tls:// requires TLS
	Name string // the client name NATS shows
	Link LinkConfig
	// Auth is the client's credentials and TLS (zero: none, or what the URL carries).
	Auth ClientAuth
	// InboxPrefix is where replies arrive ("" = _INBOX); Role.InboxPrefix for a tier, so that the
	// server can keep each role out of the other's replies.
	InboxPrefix string
	// OnError hears what the connection cannot return to a caller: failed reconnection attempts
	// (a server down, credentials refused), permission violations, slow consumers. nil = the
	// asynchronous errors go to stderr, as nats.go does by default.
	OnError func(error)
}

// firstAttemptWait bounds how long Dial waits to learn why a first attempt that did not connect
// failed; the reason is reported at once, this only guards against it never coming.
const firstAttemptWait = 5 * time.Second

// Dial connects to an external NATS server or cluster and returns the process's Link. It never
// gives up on a server that is down, at start or later: it is retried every 500 ms, and the
// Link tells the tiers how long it has been gone. A server that refuses the client at the first
// attempt (credentials, TLS) is an error at once: retrying cannot fix a configuration. A refusal
// after having been connected (the server's users changed) is retried forever, like an outage,
// and reported to OnError.
func Dial(o DialOptions) (*Link, error) {
	l, err := newLink(o.Link)
	if err != nil {
		return nil, err
	}
	authOpts, err := o.Auth.options()
	if err != nil {
		return nil, err
	}
	first := make(chan error, 1)
	opts := append([]nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500 * time.Millisecond), nats.IgnoreAuthErrorAbort(),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case first <- err:
			default:
			}
			if o.OnError != nil {
				o.OnError(fmt.Errorf("connect: %w", err))
			}
		})}, l.handlers()...)
	if o.OnError != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				err = fmt.Errorf("subscription %s: %w", sub.Subject, err)
			}
			o.OnError(err)
		}))
	}
	opts = append(opts, authOpts...)
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", RedactURL(o.URL), err)
	}
	if !nc.IsConnected() {
		select {
		case err := <-first:
			if refused(err) {
				nc.Close()
				return nil, fmt.Errorf("bus: connect %s: %w", RedactURL(o.URL), err)
			}
		case <-time.After(firstAttemptWait):
		}
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
