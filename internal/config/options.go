package config

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// option is one setting: its flag, its environment variable and where it lives in Config. The one
// table below is the single source for flags, environment and the README's settings list.
type option struct {
	flag, env, help string
	bind            func(c *Config) any // pointer to the field
}

var options = []option{
	{"log-level", "POTOK_LOG_LEVEL", "log level: trace, debug, info, warn, error", func(c *Config) any { return &c.Log.Level }},
	{"log-format", "POTOK_LOG_FORMAT", "log format: auto (console on a terminal, JSON otherwise), json or console", func(c *Config) any { return &c.Log.Format }},
	{"nats", "POTOK_NATS_URL", "external NATS URL(s); empty starts an embedded server (all-in-one only)", func(c *Config) any { return &c.NATS.URL }},
	{"nats-listen", "POTOK_NATS_LISTEN", "all-in-one: expose the embedded NATS on host:port for other processes", func(c *Config) any { return &c.NATS.Listen }},
	{"nats-grace", "POTOK_NATS_GRACE", "how long NATS may be unreachable before the streams that need it end FAILED \"Control plane unavailable\"", func(c *Config) any { return &c.NATS.Grace }},
	{"nats-kv-storage", "POTOK_NATS_KV_STORAGE", "directory buckets: memory or file (default: memory embedded, file external)", func(c *Config) any { return &c.NATS.KVStorage }},
	{"nats-kv-replicas", "POTOK_NATS_KV_REPLICAS", "directory bucket replicas on a JetStream cluster (3 on three servers)", func(c *Config) any { return &c.NATS.KVReplicas }},
	{"nats-user", "POTOK_NATS_USER", "user at an external NATS (with --nats-password)", func(c *Config) any { return &c.NATS.User }},
	{"nats-password", "POTOK_NATS_PASSWORD", "password at an external NATS; prefer the environment, which ps does not show", func(c *Config) any { return &c.NATS.Password }},
	{"nats-token", "POTOK_NATS_TOKEN", "token at an external NATS", func(c *Config) any { return &c.NATS.Token }},
	{"nats-nkey-seed", "POTOK_NATS_NKEY_SEED", "file with the nkey seed (SU…) to authenticate to an external NATS", func(c *Config) any { return &c.NATS.NkeySeed }},
	{"nats-creds", "POTOK_NATS_CREDS", "NATS .creds file (JWT and seed) to authenticate to an external NATS", func(c *Config) any { return &c.NATS.Creds }},
	{"nats-tls-ca", "POTOK_NATS_TLS_CA", "PEM CA the NATS server's certificate must chain to (default: the system's; use a tls:// URL)", func(c *Config) any { return &c.NATS.TLSCA }},
	{"nats-tls-cert", "POTOK_NATS_TLS_CERT", "client certificate (PEM) for a NATS server that verifies clients", func(c *Config) any { return &c.NATS.TLSCert }},
	{"nats-tls-key", "POTOK_NATS_TLS_KEY", "key of --nats-tls-cert", func(c *Config) any { return &c.NATS.TLSKey }},
	{"nats-listen-credentials", "POTOK_NATS_LISTEN_CREDENTIALS", "with --nats-listen: file of the embedded server's users, generated (mode 0600) at first start (default: $STATE_DIRECTORY, $XDG_STATE_HOME/potok or ~/.local/state/potok, " + CredentialsFileName + ")", func(c *Config) any { return &c.NATS.ListenCredentials }},
	{"nats-listen-tls-cert", "POTOK_NATS_LISTEN_TLS_CERT", "with --nats-listen: the embedded server's TLS certificate (PEM); nodes then connect with tls://", func(c *Config) any { return &c.NATS.ListenTLSCert }},
	{"nats-listen-tls-key", "POTOK_NATS_LISTEN_TLS_KEY", "key of --nats-listen-tls-cert", func(c *Config) any { return &c.NATS.ListenTLSKey }},
	{"nats-listen-tls-ca", "POTOK_NATS_LISTEN_TLS_CA", "with --nats-listen-tls-cert: nodes must also present a certificate signed by this CA", func(c *Config) any { return &c.NATS.ListenTLSCA }},
	{"signal-node-id", "POTOK_SIGNAL_NODE_ID", "signal node id (default: generated)", func(c *Config) any { return &c.Signal.NodeID }},
	{"ws-listen", "POTOK_WS_LISTEN", "WCS WebSocket listen address", func(c *Config) any { return &c.Signal.WSListen }},
	{"http-listen", "POTOK_HTTP_LISTEN", "REST API and /metrics listen address", func(c *Config) any { return &c.Signal.HTTPListen }},
	{"wss-listen", "POTOK_WSS_LISTEN", "WCS WebSocket over TLS listen address (WCS 8443; empty: none)", func(c *Config) any { return &c.Signal.WSSListen }},
	{"https-listen", "POTOK_HTTPS_LISTEN", "REST API over TLS listen address (WCS 8444; empty: none)", func(c *Config) any { return &c.Signal.HTTPSListen }},
	{"tls-cert", "POTOK_TLS_CERT", "certificate (PEM) of the TLS listeners; without one a self-signed certificate is generated at first start", func(c *Config) any { return &c.Signal.TLSCert }},
	{"tls-key", "POTOK_TLS_KEY", "key of --tls-cert", func(c *Config) any { return &c.Signal.TLSKey }},
	{"public-host", "POTOK_PUBLIC_HOST", "host name clients reach this signal node by, answered by the load-balancer lookup (default: the request's host)", func(c *Config) any { return &c.Signal.PublicHost }},
	{"max-sessions-per-ip", "POTOK_MAX_SESSIONS_PER_IP", "WebSocket sessions one client IP may hold on this node (0: unlimited)", func(c *Config) any { return &c.Signal.MaxSessionsPerIP }},
	{"max-sessions", "POTOK_MAX_SESSIONS", "WebSocket sessions this node holds at most (0: unlimited)", func(c *Config) any { return &c.Signal.MaxSessions }},
	{"connection-deadline", "POTOK_CONNECTION_DEADLINE", "how long a new WebSocket may take to send connection before it is closed", func(c *Config) any { return &c.Signal.ConnectionDeadline }},
	{"prefer-mediad", "POTOK_PREFER_MEDIAD", "serve this signal node's players from this media daemon id, relayed from the stream's origin (empty: from the origin)", func(c *Config) any { return &c.Signal.PreferMediad }},
	{"websdk-dir", "POTOK_WEBSDK_DIR", "an installed @flashphoner/websdk npm package: its examples are served at /client2/ on the HTTP port, as WCS does", func(c *Config) any { return &c.Signal.WebSDKDir }},
	{"keepalive-grace", "POTOK_KEEPALIVE_GRACE", "how long a keepAlive session outlives its socket, waiting to be re-attached by its authToken", func(c *Config) any { return &c.Signal.KeepAliveGrace }},
	{"sip-listen", "POTOK_SIP_LISTEN", "SIP address of the signal node, UDP and TCP, e.g. 0.0.0.0:5060 (empty: no SIP)", func(c *Config) any { return &c.Signal.SIP.Listen }},
	{"sip-host", "POTOK_SIP_HOST", "address written into SIP Via and Contact (empty: the SIP listen IP)", func(c *Config) any { return &c.Signal.SIP.Host }},
	{"sip-ring-timeout", "POTOK_SIP_RING_TIMEOUT", "a SIP call nobody answers ends after this", func(c *Config) any { return &c.Signal.SIP.RingTimeout }},
	{"allowed-origins", "POTOK_ALLOWED_ORIGINS", "comma-separated Origin host patterns allowed to open the WebSocket (empty: any, as WCS)", func(c *Config) any { return &c.Signal.AllowedOrigins }},
	{"ping-interval", "POTOK_PING_INTERVAL", "server ping interval (WCS keep_alive.server_interval)", func(c *Config) any { return &c.Signal.PingInterval }},
	{"missed-pongs", "POTOK_MISSED_PONGS", "silent ping intervals before a client is dropped (WCS keep_alive.probes)", func(c *Config) any { return &c.Signal.MissedPongs }},
	{"max-frame-bytes", "POTOK_MAX_FRAME_BYTES", "largest accepted WebSocket text frame", func(c *Config) any { return &c.Signal.MaxFrameBytes }},
	{"media-timeout", "POTOK_MEDIA_TIMEOUT", "longest a media session may stay PENDING before FAILED", func(c *Config) any { return &c.Signal.MediaTimeout }},
	{"hooks-disabled", "POTOK_HOOKS_DISABLED", "no REST hook is sent; every operation proceeds as approved (WCS disable_rest_requests)", func(c *Config) any { return &c.Signal.Hooks.Disabled }},
	{"hook-timeout", "POTOK_HOOK_TIMEOUT", "deadline of one REST hook request (WCS rest_request_timeout; 0: none)", func(c *Config) any { return &c.Signal.Hooks.Timeout }},
	{"hook-retries", "POTOK_HOOK_RETRIES", "resends of a REST hook whose request could not be sent (WCS rest_client_request_retry_count)", func(c *Config) any { return &c.Signal.Hooks.Retries }},
	{"hook-secret-key", "POTOK_HOOK_SECRET_KEY", "sign every REST hook with Authorization: WCS <HMAC-MD5 of the body> under this key (WCS rest_hook_secret_key)", func(c *Config) any { return &c.Signal.Hooks.SecretKey }},
	{"hook-keep-alive-interval", "POTOK_HOOK_KEEP_ALIVE_INTERVAL", "StreamKeepAliveEvent period of each live stream, for apps that enable it (0: off)", func(c *Config) any { return &c.Signal.Hooks.KeepAliveInterval }},
	{"rest-auth", "POTOK_REST_AUTH", "require HTTP Basic auth on every REST API request (production mode)", func(c *Config) any { return &c.Signal.REST.Auth }},
	{"rest-users-file", "POTOK_REST_USERS_FILE", "REST API users with hashed passwords, managed by potok users (default: beside the NATS credentials file, " + UsersFileName + ")", func(c *Config) any { return &c.Signal.REST.UsersFile }},
	{"rest-allow-origin", "POTOK_REST_ALLOW_ORIGIN", "Access-Control-Allow-Origin of the REST API (WCS rest_access_control_allow_origin)", func(c *Config) any { return &c.Signal.REST.AllowOrigin }},
	{"rest-query-timeout", "POTOK_REST_QUERY_TIMEOUT", "how long a REST API request waits for the other signal nodes' answers", func(c *Config) any { return &c.Signal.REST.QueryTimeout }},
	{"mediad-node-id", "POTOK_MEDIAD_NODE_ID", "mediad node id (default: generated)", func(c *Config) any { return &c.Mediad.NodeID }},
	{"media-ip", "POTOK_MEDIA_IP", "IP the media ports bind to", func(c *Config) any { return &c.Mediad.ListenIP }},
	{"media-udp-port", "POTOK_MEDIA_UDP_PORT", "the one UDP port for all WebRTC media (0: any free port)", func(c *Config) any { return &c.Mediad.UDPPort }},
	{"media-tcp-port", "POTOK_MEDIA_TCP_PORT", "the one ICE-TCP port (0: any free port, -1: off)", func(c *Config) any { return &c.Mediad.TCPPort }},
	{"public-ips", "POTOK_PUBLIC_IPS", "comma-separated IPs advertised in ICE candidates (NAT 1:1)", func(c *Config) any { return &c.Mediad.PublicIPs }},
	{"media-loopback-only", "POTOK_MEDIA_LOOPBACK_ONLY", "offer only 127.0.0.1 candidates (local testing)", func(c *Config) any { return &c.Mediad.Loopback }},
	{"ice-timeout", "POTOK_ICE_TIMEOUT", "media session ICE/DTLS deadline before FAILED \"Failed by ICE timeout\"", func(c *Config) any { return &c.Mediad.ICETimeout }},
	{"max-players-per-stream", "POTOK_MAX_PLAYERS_PER_STREAM", "players of one stream on its origin media daemon before new ones are relayed from another (0: never relay)", func(c *Config) any { return &c.Mediad.MaxPlayersPerStream }},
	{"drain-grace", "POTOK_DRAIN_GRACE", "on SIGTERM a media daemon takes no new sessions and ends the old ones within this", func(c *Config) any { return &c.Mediad.DrainGrace }},
	{"rtp-port-min", "POTOK_RTP_PORT_MIN", "lowest RTP port of the SIP calls' media (0 with rtp-port-max 0: any free port)", func(c *Config) any { return &c.Mediad.RTPPortMin }},
	{"rtp-port-max", "POTOK_RTP_PORT_MAX", "highest RTP port of the SIP calls' media", func(c *Config) any { return &c.Mediad.RTPPortMax }},
	{"mediad-http-listen", "POTOK_MEDIAD_HTTP_LISTEN", "standalone mediad: /metrics listen address", func(c *Config) any { return &c.Mediad.HTTPListen }},
}

func newFlagSet(name string, cfg *Config, configPath *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(configPath, "config", *configPath, "YAML configuration file (env POTOK_CONFIG)")
	for _, o := range options {
		help := o.help + " (env " + o.env + ")"
		switch p := o.bind(cfg).(type) {
		case *string:
			fs.StringVar(p, o.flag, *p, help)
		case *int:
			fs.IntVar(p, o.flag, *p, help)
		case *bool:
			fs.BoolVar(p, o.flag, *p, help)
		case *time.Duration:
			fs.DurationVar(p, o.flag, *p, help)
		case *[]string:
			fs.Var(listValue{p}, o.flag, help)
		}
	}
	return fs
}

func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for _, o := range options {
		v, ok := lookup(o.env)
		if !ok {
			continue
		}
		if err := setValue(o.bind(cfg), v); err != nil {
			return fmt.Errorf("config: %s=%q: %w", o.env, v, err)
		}
	}
	return nil
}

func setValue(p any, v string) error {
	switch p := p.(type) {
	case *string:
		*p = v
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*p = d
	case *[]string:
		*p = splitList(v)
	default:
		return fmt.Errorf("unsupported setting type %T", p)
	}
	return nil
}

// Markdown renders the settings table for the README.
func Markdown() string {
	out := "| flag | environment | meaning |\n|---|---|---|\n"
	for _, o := range options {
		out += fmt.Sprintf("| `--%s` | `%s` | %s |\n", o.flag, o.env, o.help)
	}
	return out
}
