package bus

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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

// Connect opens a client connection to the embedded server (in-process, no socket) with a
// default Link.
func (e *Embedded) Connect(name string) (*Link, error) { return e.ConnectLink(name, LinkConfig{}) }

// ConnectLink opens a client connection to the embedded server (in-process, no socket).
func (e *Embedded) ConnectLink(name string, cfg LinkConfig) (*Link, error) {
	l, err := newLink(cfg)
	if err != nil {
		return nil, err
	}
	opts := append([]nats.Option{nats.InProcessServer(e.srv), nats.Name(name), nats.MaxReconnects(-1)}, l.handlers()...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect in-process: %w", err)
	}
	l.start(nc)
	return l, nil
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
