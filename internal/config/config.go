// Package config loads Potok's settings. Precedence, lowest first: built-in defaults (WCS's own:
// ws 8080, REST 8081, ping every 5 s, docs/protocol.md §1 and §A.6), an optional YAML file (--config or
// POTOK_CONFIG), environment variables (POTOK_*), then command-line flags.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/logging"
)

// Config is every setting of every subcommand; each subcommand reads the parts it needs.
type Config struct {
	Log    Log    `yaml:"log"`
	NATS   NATS   `yaml:"nats"`
	Signal Signal `yaml:"signal"`
	Mediad Mediad `yaml:"mediad"`
}

// Log configures zerolog.
type Log struct {
	Level  string `yaml:"level"`  // trace, debug, info, warn, error
	Format string `yaml:"format"` // auto (console on a terminal, JSON otherwise), json or console
}

// NATS configures the control plane.
type NATS struct {
	// URL of an external NATS server or cluster (comma-separated). Empty in the all-in-one default,
	// which starts an embedded server; required by `potok signal` and `potok mediad`.
	URL string `yaml:"url"`
	// Listen exposes the embedded server on host:port so separate signal/mediad processes can join
	// the all-in-one process ("" = in-process only).
	Listen string `yaml:"listen"`
	// Grace is how long NATS may be unreachable before the streams that need it end.
	Grace time.Duration `yaml:"grace"`
	// KVStorage of the directory buckets: "memory" or "file"; "" = memory for the embedded
	// server, file for an external one.
	KVStorage string `yaml:"kvStorage"`
	// KVReplicas of the directory buckets on a JetStream cluster (3 on three servers).
	KVReplicas int `yaml:"kvReplicas"`

	// How this process authenticates to an external NATS (URL); at most one method. The URL may
	// carry user and password itself (nats://user:password@host:4222).
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	NkeySeed string `yaml:"nkeySeed"` // file with an nkey seed
	Creds    string `yaml:"creds"`    // .creds file (JWT and seed)
	// TLS to an external NATS: the CA its certificate chains to ("" = the system's), and a client
	// certificate for servers that verify clients.
	TLSCA   string `yaml:"tlsCa"`
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`

	// ListenCredentials is the file of the exposed embedded server's users (signal, mediad),
	// generated at first start; "" = DefaultCredentialsPath.
	ListenCredentials string `yaml:"listenCredentials"`
	// TLS of the exposed embedded server: its certificate and key, and optionally a CA that the
	// certificates of connecting nodes must chain to.
	ListenTLSCert string `yaml:"listenTlsCert"`
	ListenTLSKey  string `yaml:"listenTlsKey"`
	ListenTLSCA   string `yaml:"listenTlsCa"`
}

// CredentialsFileName is the credentials file's name in DefaultCredentialsPath's directory.
const CredentialsFileName = "nats-credentials.json"

// CredentialsPath resolves ListenCredentials.
func (n NATS) CredentialsPath() string {
	if n.ListenCredentials != "" {
		return n.ListenCredentials
	}
	return DefaultCredentialsPath(os.Getenv)
}

// DefaultCredentialsPath is where the embedded server's generated credentials go without
// --nats-listen-credentials: systemd's $STATE_DIRECTORY (StateDirectory=potok), else
// $XDG_STATE_HOME/potok, else ~/.local/state/potok; without a home directory, the working
// directory (potok-nats-credentials.json).
func DefaultCredentialsPath(getenv func(string) string) string {
	if d := getenv("STATE_DIRECTORY"); d != "" {
		d, _, _ = strings.Cut(d, ":") // several directories are colon-separated: the first
		return filepath.Join(d, CredentialsFileName)
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "potok", CredentialsFileName)
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "potok", CredentialsFileName)
	}
	return "potok-" + CredentialsFileName
}

// Storage resolves KVStorage: "memory" or "file".
func (n NATS) Storage() string {
	switch {
	case n.KVStorage != "":
		return n.KVStorage
	case n.URL == "":
		return "memory"
	}
	return "file"
}

// Signal configures the signalling tier.
type Signal struct {
	NodeID         string        `yaml:"nodeId"`
	WSListen       string        `yaml:"wsListen"`   // WCS: ws://0.0.0.0:8080
	HTTPListen     string        `yaml:"httpListen"` // REST API and /metrics, WCS: 8081
	AllowedOrigins []string      `yaml:"allowedOrigins"`
	PingInterval   time.Duration `yaml:"pingInterval"`
	MissedPongs    int           `yaml:"missedPongs"`
	MaxFrameBytes  int           `yaml:"maxFrameBytes"`
	MediaTimeout   time.Duration `yaml:"mediaTimeout"`

	// TLS listeners, as WCS's 8443 and 8444: wss:// and https:// with CertFile/KeyFile, or a
	// self-signed certificate generated at first start when none is given ("" = no listener).
	WSSListen   string `yaml:"wssListen"`
	HTTPSListen string `yaml:"httpsListen"`
	TLSCert     string `yaml:"tlsCert"`
	TLSKey      string `yaml:"tlsKey"`
	// PublicHost is the host name clients reach this node by (the lbUrl answer); "" = the
	// host of the request.
	PublicHost string `yaml:"publicHost"`
	// Admission at the edge: sessions per client IP and per node (0 = unlimited), and how long a
	// new socket may take to send connection.
	MaxSessionsPerIP   int           `yaml:"maxSessionsPerIp"`
	MaxSessions        int           `yaml:"maxSessions"`
	ConnectionDeadline time.Duration `yaml:"connectionDeadline"`
	// PreferMediad serves this node's players from that media daemon (relayed from the stream's
	// origin) while it is alive: the one beside this signal node ("" = from the origin).
	PreferMediad string `yaml:"preferMediad"`
	// KeepAliveGrace is how long a session created with keepAlive:true outlives its socket,
	// waiting to be re-attached by its authToken (docs/protocol.md §H.8).
	KeepAliveGrace time.Duration `yaml:"keepAliveGrace"`
	// WebSDKDir is an installed @flashphoner/websdk npm package whose examples the HTTP port
	// serves at /client2/, as WCS does ("" = none).
	WebSDKDir string `yaml:"websdkDir"`
	// SIP is the node's SIP user agent (docs/protocol.md §E.1, §E.9, §E.10).
	SIP SIP `yaml:"sip"`

	Hooks Hooks      `yaml:"hooks"`
	REST  REST       `yaml:"rest"`
	Apps  []rest.App `yaml:"apps"` // put into the cluster's app registry at start when absent
}

// SIP configures a signal node's SIP user agent.
type SIP struct {
	// Listen is the SIP address, UDP and TCP ("0.0.0.0:5060", WCS's port); "" = no SIP: calls and
	// registrations are refused with a clear answer.
	Listen string `yaml:"listen"`
	// Host is the address in Via and Contact, what the registrar and peers reach ("" = the
	// listen IP, 127.0.0.1 when unspecified).
	Host string `yaml:"host"`
	// RingTimeout ends a call nobody answers.
	RingTimeout time.Duration `yaml:"ringTimeout"`
}

// Hooks configures the REST hooks to the applications' backends (docs/protocol.md §F.1).
type Hooks struct {
	Disabled bool          `yaml:"disabled"` // WCS disable_rest_requests: no hook at all, everything approved
	Timeout  time.Duration `yaml:"timeout"`  // WCS rest_request_timeout (15 s); 0 = none
	Retries  int           `yaml:"retries"`  // WCS rest_client_request_retry_count: resends after a send failure
	// SecretKey, when set, signs every hook: Authorization: WCS <hex HMAC-MD5(body)> (WCS
	// rest_hook_send_hash with rest_hook_secret_key).
	SecretKey string `yaml:"secretKey"`
	// KeepAliveInterval of StreamKeepAliveEvent for each live stream (WCS
	// streaming_sessions_keep_alive_interval); 0 = off.
	KeepAliveInterval time.Duration `yaml:"keepAliveInterval"`
}

// REST configures the management REST API (docs/protocol.md §G.1).
type REST struct {
	// Auth requires HTTP Basic credentials on every REST API request ("production mode").
	Auth bool `yaml:"auth"`
	// UsersFile holds the REST API users with bcrypt-hashed passwords (potok users); "" =
	// DefaultUsersPath.
	UsersFile string `yaml:"usersFile"`
	// AllowOrigin is Access-Control-Allow-Origin (WCS rest_access_control_allow_origin, "*").
	AllowOrigin string `yaml:"allowOrigin"`
	// QueryTimeout bounds a cluster-wide answer: how long the other signal nodes are waited for.
	QueryTimeout time.Duration `yaml:"queryTimeout"`
}

// UsersFileName is the REST users file's name in the state directory.
const UsersFileName = "rest-users.json"

// UsersPath resolves UsersFile.
func (r REST) UsersPath() string {
	if r.UsersFile != "" {
		return r.UsersFile
	}
	return filepath.Join(filepath.Dir(DefaultCredentialsPath(os.Getenv)), UsersFileName)
}

// Mediad configures a media daemon.
type Mediad struct {
	NodeID     string        `yaml:"nodeId"`
	ListenIP   string        `yaml:"listenIp"`
	UDPPort    int           `yaml:"udpPort"`
	TCPPort    int           `yaml:"tcpPort"` // -1 disables ICE-TCP
	PublicIPs  []string      `yaml:"publicIps"`
	Loopback   bool          `yaml:"loopbackOnly"`
	ICETimeout time.Duration `yaml:"iceTimeout"`
	HTTPListen string        `yaml:"httpListen"` // /metrics of a standalone `potok mediad`
	// MaxPlayersPerStream: past this many players of one stream on its origin, new players are
	// placed on another media daemon, which relays the stream from the origin (0 = never).
	MaxPlayersPerStream int `yaml:"maxPlayersPerStream"`
	// DrainGrace: on SIGTERM the daemon takes no new sessions and ends the old ones within it.
	DrainGrace time.Duration `yaml:"drainGrace"`
	// RTPPortMin, RTPPortMax: the SIP calls' RTP ports (an even one per call); 0, 0 = any.
	RTPPortMin int `yaml:"rtpPortMin"`
	RTPPortMax int `yaml:"rtpPortMax"`
}

// Defaults are WCS's defaults where WCS has one.
func Defaults() Config {
	return Config{
		Log:  Log{Level: "info", Format: "auto"},
		NATS: NATS{Grace: 30 * time.Second, KVReplicas: 1},
		Signal: Signal{
			WSListen:           "0.0.0.0:8080",
			HTTPListen:         "0.0.0.0:8081",
			PingInterval:       5 * time.Second,
			MissedPongs:        10,
			MaxFrameBytes:      256 << 10,
			MediaTimeout:       20 * time.Second,
			WSSListen:          "0.0.0.0:8443",
			HTTPSListen:        "0.0.0.0:8444",
			MaxSessionsPerIP:   200,
			MaxSessions:        20000,
			ConnectionDeadline: 10 * time.Second,
			KeepAliveGrace:     60 * time.Second,
			SIP:                SIP{RingTimeout: 60 * time.Second},
			Hooks:              Hooks{Timeout: 15 * time.Second, Retries: 3, KeepAliveInterval: 10 * time.Second},
			REST:               REST{AllowOrigin: "*", QueryTimeout: 2 * time.Second},
		},
		Mediad: Mediad{
			ListenIP:            "0.0.0.0",
			UDPPort:             31000,
			TCPPort:             31000,
			ICETimeout:          15 * time.Second,
			HTTPListen:          "0.0.0.0:8085",
			MaxPlayersPerStream: 100,
			DrainGrace:          30 * time.Second,
		},
	}
}

// Load builds the configuration of a subcommand from defaults, file, environment and args.
// Flags are parsed twice: once to find --config, then over the loaded file and environment so
// that only flags the user actually set override them.
func Load(name string, args []string, stderr io.Writer) (Config, error) {
	probe := Defaults()
	path := os.Getenv("POTOK_CONFIG")
	if err := newFlagSet(name, &probe, &path, io.Discard).Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			newFlagSet(name, &probe, &path, stderr).Usage()
		}
		return probe, err
	}
	cfg := Defaults()
	if path != "" {
		if err := loadFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, os.LookupEnv); err != nil {
		return cfg, err
	}
	fs := newFlagSet(name, &cfg, &path, stderr)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("config: unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.validate()
}

func loadFile(path string, cfg *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored setting
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("config: "+format, a...))
		}
	}
	check(c.Signal.PingInterval > 0, "signal ping interval must be positive, got %s", c.Signal.PingInterval)
	check(c.Signal.MissedPongs > 0, "signal missed pongs must be positive, got %d", c.Signal.MissedPongs)
	check(c.Signal.MaxFrameBytes >= 4096, "signal max frame bytes must be at least 4096, got %d", c.Signal.MaxFrameBytes)
	check(c.Mediad.UDPPort >= 0 && c.Mediad.UDPPort < 65536, "mediad UDP port %d out of range", c.Mediad.UDPPort)
	check(c.Mediad.TCPPort >= -1 && c.Mediad.TCPPort < 65536, "mediad TCP port %d out of range (-1 disables)", c.Mediad.TCPPort)
	check(c.Mediad.ICETimeout > 0, "mediad ICE timeout must be positive, got %s", c.Mediad.ICETimeout)
	check(c.Log.Format == "auto" || c.Log.Format == "json" || c.Log.Format == "console",
		"log format must be auto, json or console, got %q", c.Log.Format)
	_, lerr := logging.ParseLevel(c.Log.Level)
	check(lerr == nil, "log level: %v", lerr)
	check(c.NATS.Grace > 0, "NATS grace must be positive, got %s", c.NATS.Grace)
	check(c.NATS.KVStorage == "" || c.NATS.KVStorage == "memory" || c.NATS.KVStorage == "file",
		"NATS KV storage must be memory or file, got %q", c.NATS.KVStorage)
	check(c.NATS.KVReplicas >= 1 && c.NATS.KVReplicas <= 5, "NATS KV replicas must be 1..5, got %d", c.NATS.KVReplicas)
	check(c.Signal.Hooks.Timeout >= 0, "hook timeout must not be negative, got %s", c.Signal.Hooks.Timeout)
	check(c.Signal.Hooks.Retries >= 0 && c.Signal.Hooks.Retries <= 10, "hook retries must be 0..10, got %d", c.Signal.Hooks.Retries)
	check(c.Signal.Hooks.KeepAliveInterval >= 0, "hook keep-alive interval must not be negative, got %s", c.Signal.Hooks.KeepAliveInterval)
	check(c.Signal.REST.QueryTimeout > 0, "REST query timeout must be positive, got %s", c.Signal.REST.QueryTimeout)
	check((c.Signal.TLSCert == "") == (c.Signal.TLSKey == ""), "--tls-cert and --tls-key go together")
	check(c.Signal.MaxSessionsPerIP >= 0 && c.Signal.MaxSessions >= 0, "session limits must not be negative")
	check(c.Signal.ConnectionDeadline > 0, "connection deadline must be positive, got %s", c.Signal.ConnectionDeadline)
	check(c.Signal.KeepAliveGrace >= 0, "keep-alive grace must not be negative, got %s", c.Signal.KeepAliveGrace)
	check(c.Mediad.MaxPlayersPerStream >= 0, "max players per stream must not be negative")
	check(c.Mediad.RTPPortMin >= 0 && c.Mediad.RTPPortMax <= 65535 && c.Mediad.RTPPortMin <= c.Mediad.RTPPortMax,
		"RTP port range %d-%d is not a range of ports", c.Mediad.RTPPortMin, c.Mediad.RTPPortMax)
	check(c.Signal.SIP.RingTimeout >= 0, "SIP ring timeout must not be negative")
	check(c.Mediad.DrainGrace >= 0, "drain grace must not be negative, got %s", c.Mediad.DrainGrace)
	errs = append(errs, c.NATS.validateAuth()...)
	return errors.Join(errs...)
}

// validateAuth checks the NATS credentials and TLS settings: one authentication method, files
// that exist, client settings only for an external server and listen settings only for an
// exposed embedded one.
func (n NATS) validateAuth() []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf("config: "+format, a...)) }
	var methods []string
	if n.User != "" || n.Password != "" {
		methods = append(methods, "--nats-user/--nats-password")
		if n.User == "" || n.Password == "" {
			fail("--nats-user and --nats-password go together")
		}
	}
	if n.Token != "" {
		methods = append(methods, "--nats-token")
	}
	if n.NkeySeed != "" {
		methods = append(methods, "--nats-nkey-seed")
	}
	if n.Creds != "" {
		methods = append(methods, "--nats-creds")
	}
	if urlHasUser(n.URL) {
		if len(methods) > 0 {
			fail("the --nats URL carries credentials and %s is set too: use one", methods[0])
		}
		methods = append(methods, "credentials in the --nats URL")
	}
	if len(methods) > 1 {
		fail("more than one NATS authentication method: %s; use one", strings.Join(methods, ", "))
	}
	if (n.TLSCert == "") != (n.TLSKey == "") {
		fail("--nats-tls-cert and --nats-tls-key go together")
	}
	if (n.ListenTLSCert == "") != (n.ListenTLSKey == "") {
		fail("--nats-listen-tls-cert and --nats-listen-tls-key go together")
	}
	if n.ListenTLSCA != "" && n.ListenTLSCert == "" {
		fail("--nats-listen-tls-ca (verify the nodes' certificates) needs --nats-listen-tls-cert and --nats-listen-tls-key")
	}
	client := map[string]string{"--nats-user": n.User, "--nats-password": n.Password, "--nats-token": n.Token,
		"--nats-nkey-seed": n.NkeySeed, "--nats-creds": n.Creds, "--nats-tls-ca": n.TLSCA,
		"--nats-tls-cert": n.TLSCert, "--nats-tls-key": n.TLSKey}
	listen := map[string]string{"--nats-listen-credentials": n.ListenCredentials,
		"--nats-listen-tls-cert": n.ListenTLSCert, "--nats-listen-tls-key": n.ListenTLSKey, "--nats-listen-tls-ca": n.ListenTLSCA}
	for _, name := range sortedKeys(client) {
		if client[name] != "" && n.URL == "" {
			fail("%s is for an external NATS (--nats); the embedded server's users are in the --nats-listen-credentials file", name)
		}
	}
	for _, name := range sortedKeys(listen) {
		if listen[name] != "" && (n.Listen == "" || n.URL != "") {
			fail("%s is for the embedded server exposed with --nats-listen (all-in-one, without --nats)", name)
		}
	}
	files := map[string]string{"--nats-nkey-seed": n.NkeySeed, "--nats-creds": n.Creds, "--nats-tls-ca": n.TLSCA,
		"--nats-tls-cert": n.TLSCert, "--nats-tls-key": n.TLSKey, "--nats-listen-tls-cert": n.ListenTLSCert,
		"--nats-listen-tls-key": n.ListenTLSKey, "--nats-listen-tls-ca": n.ListenTLSCA}
	for _, name := range sortedKeys(files) {
		if p := files[name]; p != "" {
			if st, err := os.Stat(p); err != nil {
				fail("%s: %v", name, err)
			} else if st.IsDir() {
				fail("%s: %s is a directory", name, p)
			}
		}
	}
	return errs
}

// urlHasUser reports whether any of the comma-separated URLs carries a user (or token).
func urlHasUser(urls string) bool {
	for _, part := range splitList(urls) {
		if u, err := url.Parse(part); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// listValue is a comma-separated list flag.
type listValue struct{ p *[]string }

func (l listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listValue) Set(s string) error {
	*l.p = splitList(s)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
