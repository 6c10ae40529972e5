package bus

import (
	"crypto/rand"
	"encoding/base64"
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
	// Users are the only clients the server accepts, each with its role's permissions
	// (RolePermissions). None = no authentication, for a server without a socket (and tests):
	// the all-in-one process never listens without them (README "Securing the control plane").
	// In-process connections (ConnectLink) then authenticate as an internal user whose password
	// exists only in this process's memory.
	Users []EmbeddedUser
	// TLS of the socket; nil = plain.
	TLS *EmbeddedTLS
}

// EmbeddedUser is one user of the embedded server.
type EmbeddedUser struct {
	User, Password string
	Role           Role
}

// EmbeddedTLS is the embedded server's certificate, and the CA its clients' certificates must
// chain to when they are verified.
type EmbeddedTLS struct {
	CertFile, KeyFile string
	// CAFile, when set, makes every TCP client present a certificate signed by it (mutual TLS),
	// on top of its user and password.
	CAFile string
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv      *server.Server
	tempDir  string
	internal *ClientAuth // the in-process user, when the server has users
}

// internalUser is the all-in-one process's own user: both tiers share one in-process connection.
const internalUser = "potok-internal"

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
	if len(o.Users) > 0 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			e.cleanup()
			return nil, fmt.Errorf("bus: internal password: %w", err)
		}
		e.internal = &ClientAuth{User: internalUser, Password: base64.RawURLEncoding.EncodeToString(b)}
		// No permissions: the connection never leaves the process, which runs both tiers.
		opts.Users = []*server.User{{Username: internalUser, Password: e.internal.Password}}
		for _, u := range o.Users {
			if u.User == "" || u.Password == "" || u.User == internalUser {
				e.cleanup()
				return nil, fmt.Errorf("bus: embedded user %q: needs a name other than %s and a password", u.User, internalUser)
			}
			opts.Users = append(opts.Users, &server.User{Username: u.User, Password: u.Password,
				Permissions: RolePermissions(u.Role).server()})
		}
	}
	if o.TLS != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile,
			CaFile: o.TLS.CAFile, Verify: o.TLS.CAFile != ""})
		if err != nil {
			e.cleanup()
			return nil, fmt.Errorf("bus: embedded nats TLS: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, o.TLS.CAFile != ""
		opts.TLSCert, opts.TLSKey, opts.TLSCaCert = o.TLS.CertFile, o.TLS.KeyFile, o.TLS.CAFile
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
	if e.internal != nil {
		opts = append(opts, nats.UserInfo(e.internal.User, e.internal.Password))
	}
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
