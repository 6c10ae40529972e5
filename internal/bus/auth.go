package bus

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
)

// ClientAuth is how a client proves who it is to NATS and which server certificates it trusts.
// At most one of user/password, token, nkey seed and creds file is set; TLS combines with any.
type ClientAuth struct {
	User, Password string
	Token          string
	NkeySeedFile   string // an nkey seed (SU…), as `nk -gen user` writes it
	CredsFile      string // a decentralized-auth .creds file (JWT and seed)
	TLSCAFile      string // PEM CA(s) the server's certificate must chain to; "" = the system's
	TLSCertFile    string // client certificate for servers that verify clients
	TLSKeyFile     string
}

// options are the nats.go options for a.
func (a ClientAuth) options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.User != "" || a.Password != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	case a.NkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey seed %s: %w", a.NkeySeedFile, err)
		}
		opts = append(opts, o)
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(a.TLSCAFile))
	}
	if a.TLSCertFile != "" || a.TLSKeyFile != "" {
		opts = append(opts, nats.ClientCert(a.TLSCertFile, a.TLSKeyFile))
	}
	return opts, nil
}

// refused reports whether a connection attempt failed because the server does not accept this
// client (credentials, TLS), as opposed to a server that is down. Retrying will not help until
// someone changes the configuration, so the first attempt of Dial fails with it.
func refused(err error) bool {
	var netErr net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted):
		return true
	case errors.As(err, &netErr) && netErr.Timeout():
		return false // a slow handshake: an overloaded server, not a refusal
	case errors.Is(err, nats.ErrTLS):
		// The handshake failed (an unknown CA, a wrong host name) or the server closed the
		// connection right after it (no or a wrong client certificate).
		return true
	case errors.As(err, &op) && op.Op == "remote error":
		return true // a TLS alert from the server: "tls: certificate required", "bad certificate"…
	}
	return strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// RedactURL hides the passwords of a comma-separated NATS URL list, for logs and errors.
func RedactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx") // a bare token
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// Role is what a control-plane user may do: the subjects of its tier and nothing else.
type Role string

const (
	// RoleSignal publishes RPCs to potok.media.<node>.<op>, reads its potok.signal.<node>.events
	// and uses both directory buckets and the application registry (BucketApps).
	RoleSignal Role = control.KindSignal
	// RoleMediad serves potok.media.<node>.<op>, publishes potok.signal.<node>.events, writes
	// its node record and asks other media daemons for relays.
	RoleMediad Role = control.KindMediad
)

// InboxPrefix is where a role's replies arrive: _INBOX.<role>. Each role may subscribe to its own
// inboxes only, so a mediad's credentials cannot read a signal node's replies (SDP answers,
// directory values) and the other way round.
func (r Role) InboxPrefix() string { return "_INBOX." + string(r) }

// Permissions are a role's subject permissions in NATS's terms (server.Permissions, or a
// nats-server config's permissions block). Replies to requests the role received are allowed by
// Responses (allow_responses), not by publish rights on anyone's inbox.
type Permissions struct {
	PublishAllow, PublishDeny     []string
	SubscribeAllow, SubscribeDeny []string
	Responses                     bool
}

// RolePermissions are the least privilege of a role that NATS can express: subjects per tier,
// JetStream API only on the directory's streams, KV writes only in the buckets the tier writes.
// NATS cannot scope a subject to the node id a client claims, so any signal node could still read
// another signal node's events, and any mediad write another node's heartbeat record.
func RolePermissions(r Role) Permissions {
	nodes, streams := control.BucketNodes, control.BucketStreams
	// admin: OpenDirectory and Ensure create both buckets, whoever comes first (and read the
	// account's limits for it).
	admin := []string{"$JS.API.INFO"}
	bucketAdmin := func(b string) []string {
		return []string{"$JS.API.STREAM.INFO.KV_" + b, "$JS.API.STREAM.CREATE.KV_" + b, "$JS.API.STREAM.UPDATE.KV_" + b}
	}
	for _, b := range []string{nodes, streams} {
		admin = append(admin, bucketAdmin(b)...)
	}
	// read: Get (a direct get, or a message get where direct gets are off) and watches (Keys,
	// WatchAll: an ordered consumer, created and deleted by the client; its flow-control answers
	// are replies, allowed by Responses).
	read := func(b string) []string {
		s := "KV_" + b
		return []string{"$JS.API.DIRECT.GET." + s + ".>", "$JS.API.STREAM.MSG.GET." + s,
			"$JS.API.CONSUMER.CREATE." + s + ".>", "$JS.API.CONSUMER.DELETE." + s + ".>"}
	}
	// write: Put, Create, Update, Delete are publishes on the bucket's subjects.
	write := func(b string) string { return "$KV." + b + ".>" }
	cat := func(lists ...[]string) []string {
		var out []string
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	reattach := []string{control.ReattachSubject("*"), control.TunnelSubject("*", "*")}
	switch r {
	case RoleSignal:
		return Permissions{
			PublishAllow: cat([]string{"potok.media.*.*"}, admin, read(nodes), read(streams),
				[]string{"$JS.API.STREAM.PURGE.KV_" + streams, // tombstone sweep (Directory.PurgeStreamTombstones)
					write(nodes), write(streams)},
				// The application registry (signal/apps): created by whichever signal node
				// opens it first, watched by all, written by the REST API's app endpoints.
				bucketAdmin(BucketApps), read(BucketApps), []string{write(BucketApps)},
				// The REST API's cluster-wide questions (signal/cluster), asked and answered
				// by signal nodes only.
				[]string{control.RESTQuerySubject},
				// keepAlive re-attaches through another signal node (signal/tunnel.go).
				reattach),
			PublishDeny:    []string{"potok.signal.>"},
			SubscribeAllow: cat([]string{"potok.signal.*.events", control.RESTQuerySubject, r.InboxPrefix() + ".>"}, reattach),
			Responses:      true,
		}
	case RoleMediad:
		return Permissions{
			// The streams bucket is created (Directory.Ensure) but neither read nor written.
			// Relays: an edge asks an origin (relay, relayStop) and an origin tells an edge
			// (relayEvent); a media daemon never sends a signal node's RPCs to another one.
			PublishAllow: cat([]string{"potok.signal.*.events", "potok.media.*." + control.OpRelay,
				"potok.media.*." + control.OpRelayStop, "potok.media.*." + control.OpRelayEvent}, admin,
				read(nodes), []string{write(nodes)}),
			PublishDeny: []string{"potok.media.*." + control.OpPublish, "potok.media.*." + control.OpPlay, "potok.media.*." + control.OpOwned,
				"potok.media.*." + control.OpStop, "potok.media.*." + control.OpStreamEvent, write(streams)},
			SubscribeAllow: []string{"potok.media.*.*", r.InboxPrefix() + ".>"},
			Responses:      true,
		}
	}
	return Permissions{}
}

// server converts p for an embedded server.
func (p Permissions) server() *server.Permissions {
	sp := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.PublishAllow, Deny: p.PublishDeny},
		Subscribe: &server.SubjectPermission{Allow: p.SubscribeAllow, Deny: p.SubscribeDeny},
	}
	if p.Responses {
		// One reply per request, as nats-server's allow_responses: true.
		sp.Response = &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
	}
	return sp
}

// NATSServerConfig is a nats-server configuration (2.9 or later) for an external control plane:
// JetStream, one user per role with RolePermissions, passwords read from the environment
// variables SIGNAL_PASSWORD and MEDIAD_PASSWORD when nats-server starts. listen is host:port,
// storeDir JetStream's directory. The README's sample is this with 0.0.0.0:4222, /var/lib/nats.
func NATSServerConfig(listen, storeDir string) string {
	var b strings.Builder
	list := func(indent, key string, subjects []string) {
		if len(subjects) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s%s: [\n", indent, key)
		for _, s := range subjects {
			fmt.Fprintf(&b, "%s  %q\n", indent, s)
		}
		fmt.Fprintf(&b, "%s]\n", indent)
	}
	fmt.Fprintf(&b, "listen: %q\n", listen)
	fmt.Fprintf(&b, "jetstream { store_dir: %q }\n", storeDir)
	b.WriteString("authorization {\n  users: [\n")
	for _, r := range []Role{RoleSignal, RoleMediad} {
		p := RolePermissions(r)
		fmt.Fprintf(&b, "    {\n      user: %s\n      password: $%s_PASSWORD\n      permissions: {\n", r, strings.ToUpper(string(r)))
		b.WriteString("        publish: {\n")
		list("          ", "allow", p.PublishAllow)
		list("          ", "deny", p.PublishDeny)
		b.WriteString("        }\n        subscribe: {\n")
		list("          ", "allow", p.SubscribeAllow)
		list("          ", "deny", p.SubscribeDeny)
		b.WriteString("        }\n")
		if p.Responses {
			b.WriteString("        allow_responses: true\n")
		}
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}
