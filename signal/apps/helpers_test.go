package apps

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
)

// server is an embedded NATS server that a test can stop and start again on the same port and
// store directory, as an operator restarts nats-server.
type server struct {
	t    *testing.T
	opts bus.EmbeddedOptions
	emb  *bus.Embedded
}

func startServer(t *testing.T, listen bool) *server {
	t.Helper()
	s := &server{t: t, opts: bus.EmbeddedOptions{StoreDir: t.TempDir()}}
	if listen {
		s.opts.Listen = "127.0.0.1:0"
	}
	s.start()
	if listen {
		u, err := url.Parse(s.emb.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		s.opts.Listen = u.Host // the same port after a restart
	}
	t.Cleanup(func() {
		if s.emb != nil {
			s.emb.Shutdown()
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	emb, err := bus.StartEmbedded(s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	s.emb = emb
}

func (s *server) stop() {
	s.emb.Shutdown()
	s.emb = nil
}

// link is an in-process connection, closed when the test ends.
func (s *server) link(name string) *bus.Link {
	s.t.Helper()
	l, err := s.emb.Connect(name)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(l.Close)
	return l
}

// dial is a TCP connection that reconnects when the server comes back.
func (s *server) dial(name string) *bus.Link {
	s.t.Helper()
	l, err := bus.Dial(bus.DialOptions{URL: "nats://" + s.opts.Listen, Name: name})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(l.Close)
	return l
}

func open(t *testing.T, l *bus.Link, cfg bus.DirectoryConfig, seed ...rest.App) *Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := Open(ctx, l, cfg, seed, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// urlOf is the URL of key in r's copy, "-" when r has no such app.
func urlOf(r *Registry, key string) string {
	a, ok := r.Get(key)
	if !ok {
		return "-"
	}
	return a.URL
}
