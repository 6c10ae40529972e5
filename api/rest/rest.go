// Package rest holds the contract of the management REST API (docs/protocol.md §G): the objects it
// returns, the filters and requests it takes, and the applications a signal node serves
// (docs/protocol.md §F.2). signal/restapi serves it over HTTP; signal answers it cluster-wide.
package rest

import (
	"encoding/json"
	"errors"
	"slices"
)

// Stream is a media session as /stream/find* returns it (§G.3): the WS Stream object plus who
// owns it. Metrics is set only when the request asked for display:["metrics"].
type Stream struct {
	NodeID         string           `json:"nodeId"`
	AppKey         string           `json:"appKey"`
	SessionID      string           `json:"sessionId"`
	MediaSessionID string           `json:"mediaSessionId"`
	Name           string           `json:"name"`
	Published      bool             `json:"published"`
	HasVideo       bool             `json:"hasVideo"`
	HasAudio       bool             `json:"hasAudio"`
	Status         string           `json:"status"`
	Info           *string          `json:"info"`
	AudioCodec     string           `json:"audioCodec"`
	VideoCodec     string           `json:"videoCodec"`
	Record         bool             `json:"record"`
	Width          int              `json:"width"`
	Height         int              `json:"height"`
	Bitrate        int              `json:"bitrate"`
	MinBitrate     int              `json:"minBitrate"`
	MaxBitrate     int              `json:"maxBitrate"`
	Quality        int              `json:"quality"`
	Transport      string           `json:"transport"`
	CreateDate     int64            `json:"createDate"`
	MediaType      string           `json:"mediaType"` // "publish" or "play"
	MediaProvider  string           `json:"mediaProvider"`
	AudioState     MuteState        `json:"audioState"`
	VideoState     MuteState        `json:"videoState"`
	Custom         json.RawMessage  `json:"custom"`
	Metrics        map[string]int64 `json:"metrics,omitempty"`
}

// MuteState is {"muted":bool}.
type MuteState struct {
	Muted bool `json:"muted"`
}

// Metric keys of Stream.Metrics (§G.2 /stream/find display:["metrics"]).
const (
	MetricVideoRate   = "VIDEO_RATE"   // bits per second
	MetricVideoFPS    = "VIDEO_FPS"    // frames per second
	MetricVideoWidth  = "VIDEO_WIDTH"  // pixels
	MetricVideoHeight = "VIDEO_HEIGHT" // pixels
	MetricVideoNACK   = "VIDEO_NACK"   // NACKs, total
	MetricVideoPLI    = "VIDEO_PLI"    // PLIs, total
	MetricVideoLost   = "VIDEO_LOST"   // packets lost, total
	MetricAudioRate   = "AUDIO_RATE"   // bits per second
	MetricAudioLost   = "AUDIO_LOST"   // packets lost, total
)

// Connection is a WS session as /connection/find* returns it (§G.3): the fields the client sent
// with connection (sipPassword masked), plus the server's own.
type Connection map[string]any

// StreamFilter selects streams: every set field must match (§G.1 "Filters"); the zero filter
// matches every stream.
type StreamFilter struct {
	Name            string   `json:"name,omitempty"`
	MediaSessionID  string   `json:"mediaSessionId,omitempty"`
	MediaSessionIDs []string `json:"mediaSessionIds,omitempty"`
	Status          string   `json:"status,omitempty"`
	Published       *bool    `json:"published,omitempty"`
	SessionID       string   `json:"sessionId,omitempty"`
	// Display ["metrics"] adds Stream.Metrics (find only).
	Display []string `json:"display,omitempty"`
}

// Matches reports whether f selects st (Display aside).
func (f StreamFilter) Matches(st Stream) bool {
	switch {
	case f.Name != "" && f.Name != st.Name,
		f.MediaSessionID != "" && f.MediaSessionID != st.MediaSessionID,
		len(f.MediaSessionIDs) > 0 && !slices.Contains(f.MediaSessionIDs, st.MediaSessionID),
		f.Status != "" && f.Status != st.Status,
		f.Published != nil && *f.Published != st.Published,
		f.SessionID != "" && f.SessionID != st.SessionID:
		return false
	}
	return true
}

// ConnectionFilter selects connections (/connection/find).
type ConnectionFilter struct {
	AppKey        string `json:"appKey,omitempty"`
	SessionID     string `json:"sessionId,omitempty"`
	ClientVersion string `json:"clientVersion,omitempty"`
}

// Route is one relay of a stream from its origin media daemon to an edge daemon, which serves
// Players of it (docs/protocol.md §G.2, /cdn/show_routes).
type Route struct {
	StreamName string `json:"streamName"`
	Origin     string `json:"origin"`
	Edge       string `json:"edge"`
	Players    int    `json:"players"`
}

// StreamRoutes is what /cdn/stream/show_routes answers for one stream: where it is published and
// which media daemons relay it, with their players.
type StreamRoutes struct {
	StreamName string      `json:"streamName"`
	Origin     string      `json:"origin"`
	Relays     []EdgeRoute `json:"relays"`
}

// EdgeRoute is one media daemon relaying a stream.
type EdgeRoute struct {
	Node    string `json:"node"`
	Players int    `json:"players"`
}

// StreamName is a body naming one stream (/cdn/stream/show_routes).
type StreamName struct {
	StreamName string `json:"streamName"`
}

// DataSend is the body of /data/send: OnDataEvent to one session (§G.2). NodeID is optional:
// every node is asked, and the one holding the session delivers.
type DataSend struct {
	NodeID      string          `json:"nodeId,omitempty"`
	SessionID   string          `json:"sessionId"`
	OperationID string          `json:"operationId,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

// StreamEventSend is the body of /stream/event/send: notifyStreamEvent type "data" to every
// subscriber of a stream (§G.2).
type StreamEventSend struct {
	StreamName string          `json:"streamName"`
	Payload    json.RawMessage `json:"payload"`
}

// ClientLog is the body of /logger/enable_client_log, /logger/disable_client_log and
// /connection/set_log_level.
type ClientLog struct {
	SessionID string `json:"sessionId"`
	LogLevel  string `json:"logLevel,omitempty"`
}

// NodeLogRequest is the body of /logger/set_node_log_level, a Potok extension: the log level of
// whole nodes, every one of the cluster or only NodeID.
type NodeLogRequest struct {
	LogLevel string `json:"logLevel"`
	NodeID   string `json:"nodeId,omitempty"`
}

// NodeLogLevel is one node's answer to /logger/set_node_log_level: its level now.
type NodeLogLevel struct {
	NodeID   string `json:"nodeId"`
	Tier     string `json:"tier"` // signal or mediad
	LogLevel string `json:"logLevel"`
}

// App is an application (docs/protocol.md §F.2): what a client's appKey selects. URL is the base
// of its REST hooks ("" = hooks off, EchoURL = the in-process echo backend); Methods are the
// hook methods called (others are skipped as approved); Defaults is the app's restClientConfig,
// which a connect response may override per session.
type App struct {
	Key          string                  `json:"appKey" yaml:"appKey"`
	Name         string                  `json:"name,omitempty" yaml:"name"`
	URL          string                  `json:"url" yaml:"url"`
	Methods      []string                `json:"methods" yaml:"methods"`
	RestUsername string                  `json:"restUsername,omitempty" yaml:"restUsername"`
	RestPassword string                  `json:"restPassword,omitempty" yaml:"restPassword"`
	Defaults     map[string]MethodConfig `json:"defaults,omitempty" yaml:"defaults"`
}

// EchoURL is the URL of the built-in echo backend: every hook is answered 200 with its request
// body, as WCS's EchoApp does (§F.2), without leaving the process.
const EchoURL = "echo:"

// Built-in apps, present on every cluster.
const (
	DefaultApp = "defaultApp" // hooks off
	EchoApp    = "EchoApp"    // every hook enabled, answered by the echo backend
)

// MethodConfig is one method's entry of restClientConfig (§F.6). Lists are comma-separated on the
// wire, as WCS writes them.
type MethodConfig struct {
	ClientExclude string `json:"clientExclude,omitempty" yaml:"clientExclude"`
	RestExclude   string `json:"restExclude,omitempty" yaml:"restExclude"`
	RestOnError   string `json:"restOnError,omitempty" yaml:"restOnError"` // LOG (default) or FAIL
	RestPolicy    string `json:"restPolicy,omitempty" yaml:"restPolicy"`   // NOTIFY (default), OVERWRITE, DISABLE
	RestOverwrite string `json:"restOverwrite,omitempty" yaml:"restOverwrite"`
}

// AppMethods is the body of /app/method/add and /app/method/remove: All means every method.
type AppMethods struct {
	AppKey  string   `json:"appKey"`
	Methods []string `json:"methods,omitempty"`
	All     bool     `json:"all,omitempty"`
}

// AppKey is a body naming one app (/app/find, /app/remove).
type AppKey struct {
	AppKey string `json:"appKey"`
}

// Errors a Backend returns; the HTTP layer maps them to status codes.
var (
	ErrNotFound = errors.New("not found")      // 404
	ErrConflict = errors.New("already exists") // 409
	ErrInvalid  = errors.New("invalid")        // 400 (wrapped with the reason)
	// ErrUnavailable: the control plane cannot answer now (503); the same request may succeed
	// once NATS is back.
	ErrUnavailable = errors.New("unavailable")
)

// Call is a SIP call as /call/find and /call/find_all show it (docs/protocol.md §G.3): WCS's
// Call object, with null for what Potok has no value of.
type Call struct {
	NodeID          string          `json:"nodeId"`
	AppKey          string          `json:"appKey"`
	SessionID       string          `json:"sessionId"`
	CallID          string          `json:"callId"`
	Incoming        bool            `json:"incoming"`
	Status          string          `json:"status"`
	SIPStatus       int             `json:"sipStatus"`
	Caller          string          `json:"caller"`
	Callee          string          `json:"callee"`
	VisibleName     string          `json:"visibleName"`
	HasAudio        bool            `json:"hasAudio"`
	HasVideo        bool            `json:"hasVideo"`
	MediaProvider   string          `json:"mediaProvider"`
	HoldForTransfer bool            `json:"holdForTransfer"`
	Custom          json.RawMessage `json:"custom,omitempty"`
	RTMPURL         *string         `json:"rtmpUrl"`
	StreamName      *string         `json:"streamName"`
}

// CallFilter selects calls (/call/find, /call/terminate): empty fields match any.
type CallFilter struct {
	CallID string `json:"callId,omitempty"`
	Callee string `json:"callee,omitempty"`
	Status string `json:"status,omitempty"`
}

// CallDTMF is the body of /call/send_dtmf: one symbol, sent as type (RFC2833, INFO, INFO_RELAY).
type CallDTMF struct {
	CallID string `json:"callId"`
	DTMF   string `json:"dtmf"`
	Type   string `json:"type,omitempty"`
}
