// Package control holds the contract between signal and mediad: NATS subjects, request/reply
// bodies, events and directory records (design.md "Control plane"). Media never crosses NATS.
// Bodies are JSON. Every reply carries Error (empty on success) whose text, when set, is the WCS
// info string the client should see (docs/protocol.md §D.4), e.g. "No common codecs".
package control

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// Operations a mediad serves on MediaSubject(nodeID, op).
const (
	OpPublish     = "publish"     // PublishRequest → PublishReply
	OpOwned       = "owned"       // OwnedRequest → OwnedReply: the media sessions a signal node owns there
	OpPlay        = "play"        // PlayRequest → PlayReply
	OpStop        = "stop"        // StopRequest → StopReply
	OpStreamEvent = "streamEvent" // StreamEventRequest → StopReply (fan-out to subscribers)

	// Between media daemons (relays): an edge asks the origin of a stream for it, and stops it
	// after its last player; the origin tells the edge when the stream ends.
	OpRelay      = "relay"      // RelayRequest → RelayReply (on the origin)
	OpRelayStop  = "relayStop"  // RelayStopRequest → StopReply (on the origin)
	OpRelayEvent = "relayEvent" // RelayEvent, no reply (on the edge)
	OpRoutes     = "routes"     // {} → RoutesReply: the relays this daemon holds as an edge
)

// RoutesReply lists an edge's relays (the REST API's /cdn/show_routes).
type RoutesReply struct {
	Relays []Route `json:"relays"`
	Error  string  `json:"error,omitempty"`
}

// Route is one relay: stream from origin to edge, and how many players it serves there.
type Route struct {
	Stream  string `json:"streamName"`
	Origin  string `json:"origin"`
	Edge    string `json:"edge"`
	Players int    `json:"players"`
}

// MediaSubject is the RPC subject of one operation on one mediad node.
func MediaSubject(nodeID, op string) string { return "potok.media." + nodeID + "." + op }

// SignalEventsSubject is where a mediad publishes MediaEvents for sessions owned by a signal node.
func SignalEventsSubject(signalNodeID string) string {
	return "potok.signal." + signalNodeID + ".events"
}

// RequestTimeout bounds every signal→mediad RPC. A publish/play answer needs ICE gathering on a
// host-only agent, which is immediate; 5 s covers a loaded machine.
const RequestTimeout = 5 * time.Second

// Owner identifies who owns a media session: the signal node and WS session that asked for it.
// mediad sends every event about the media session to SignalEventsSubject(SignalNode).
type Owner struct {
	SignalNode string `json:"signalNode"`
	// SignalStarted is the owning signal node's incarnation (NodeRecord.Started): a node restarted
	// under the same id is another owner, and the sessions of its previous life are orphans.
	SignalStarted  int64  `json:"signalStarted,omitempty"`
	SessionID      string `json:"sessionId"`
	MediaSessionID string `json:"mediaSessionId"`
}

// Key identifies the media session cluster-wide. The mediaSessionId alone is chosen by the client,
// so two clients may pick the same one; a mediad keys its sessions by the whole owner.
func (o Owner) Key() string {
	return o.SignalNode + "/" + o.SessionID + "/" + o.MediaSessionID
}

// PublishRequest asks a mediad to accept a publisher's offer (docs/protocol.md §E.2).
type PublishRequest struct {
	Owner
	StreamName string `json:"streamName"`
	Offer      string `json:"offer"`
	Transport  string `json:"transport,omitempty"` // "UDP" (default) or "TCP"
	Record     bool   `json:"record,omitempty"`
}

// PublishReply carries the SDP answer (recvonly, with the daemon's candidates).
type PublishReply struct {
	Answer     string `json:"answer,omitempty"`
	AudioCodec string `json:"audioCodec,omitempty"` // WCS spelling: "opus", "PCMA", "PCMU"
	VideoCodec string `json:"videoCodec,omitempty"` // "VP8", "H264"
	HasAudio   bool   `json:"hasAudio"`             // the answer accepted audio
	HasVideo   bool   `json:"hasVideo"`             // the answer accepted video
	Error      string `json:"error,omitempty"`
}

// PlayRequest asks the mediad that holds the stream to add a subscriber (§E.3).
type PlayRequest struct {
	Owner
	StreamName string `json:"streamName"`
	Offer      string `json:"offer"`
	Transport  string `json:"transport,omitempty"`
	// Origin, when set, is the media daemon that holds the stream: this one serves the player
	// from a relay of it (one per stream, shared by its players).
	Origin string `json:"origin,omitempty"`
	// Force asks the origin to take the player even past its players-per-stream limit: no other
	// media daemon could relay it.
	Force bool `json:"force,omitempty"`
}

// ErrOriginFull is a PlayReply.Error (not a client info): the origin has its limit of players for
// the stream; place the player on another media daemon with Origin set.
const ErrOriginFull = "origin full"

// PlayReply carries the SDP answer (sendonly, one msid stream id for audio and video, §H.3) and
// what the player should be told with PLAYING.
type PlayReply struct {
	Answer     string `json:"answer,omitempty"`
	AudioCodec string `json:"audioCodec,omitempty"`
	VideoCodec string `json:"videoCodec,omitempty"`
	HasAudio   bool   `json:"hasAudio"`
	HasVideo   bool   `json:"hasVideo"`
	AudioMuted bool   `json:"audioMuted"`
	VideoMuted bool   `json:"videoMuted"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	Error      string `json:"error,omitempty"`
}

// RelayRequest asks the origin of a stream for a relay to the edge daemon: the edge's recvonly
// offer for the stream's kinds. Edge and EdgeStarted make the relay's owner, so the origin ends it
// when the edge's node record goes (a dead edge) or changes life.
type RelayRequest struct {
	Edge        string `json:"edge"`
	EdgeStarted int64  `json:"edgeStarted"`
	StreamName  string `json:"streamName"`
	Offer       string `json:"offer"`
}

// RelayOwner is the owner of the origin's side of a relay: the edge in place of a signal node.
func RelayOwner(edge string, edgeStarted int64, stream string) Owner {
	return Owner{SignalNode: edge, SignalStarted: edgeStarted, SessionID: RelaySession, MediaSessionID: stream}
}

// RelaySession is the SessionID of every relay owner.
const RelaySession = "relay"

// RelayReply is the origin's answer and the stream's codecs, which the edge's players get.
type RelayReply struct {
	Answer        string       `json:"answer,omitempty"`
	Codecs        []RelayCodec `json:"codecs,omitempty"`
	AudioMuted    bool         `json:"audioMuted"`
	VideoMuted    bool         `json:"videoMuted"`
	OriginStarted int64        `json:"originStarted"` // the origin's incarnation: another life is another stream
	Error         string       `json:"error,omitempty"`
}

// RelayCodec is one kind's codec of a relayed stream.
type RelayCodec struct {
	Kind        string `json:"kind"` // "audio" or "video"
	MimeType    string `json:"mimeType"`
	ClockRate   uint32 `json:"clockRate"`
	Channels    uint16 `json:"channels,omitempty"`
	SDPFmtpLine string `json:"fmtp,omitempty"`
	PayloadType uint8  `json:"payloadType"`
}

// RelayStopRequest ends the origin's side of a relay.
type RelayStopRequest struct {
	Edge        string `json:"edge"`
	EdgeStarted int64  `json:"edgeStarted"`
	StreamName  string `json:"streamName"`
}

// RelayEvent tells an edge about a stream it relays: it ended (Closed, with the info its players
// get), or a stream event for its players.
type RelayEvent struct {
	StreamName  string          `json:"streamName"`
	Closed      bool            `json:"closed,omitempty"`
	Info        string          `json:"info,omitempty"`
	StreamEvent *StreamEventMsg `json:"streamEvent,omitempty"`
}

// StopRequest ends one media session. Info is the reason, passed on to the players of a stopped
// publisher (docs/protocol.md §E.4: they get FAILED "Stopped by publisher stop").
type StopRequest struct {
	Owner
	Info string `json:"info,omitempty"`
}

// OwnedRequest asks a media daemon for the media sessions a signal node owns there: a node
// judged down and then heard again (it stalled, or was cut off) still holds what the signal node
// ended meanwhile, and the signal node stops what it no longer knows.
type OwnedRequest struct {
	SignalNode string `json:"signalNode"`
}

// OwnedReply lists the owners of those media sessions.
type OwnedReply struct {
	Owners []Owner `json:"owners"`
	Error  string  `json:"error,omitempty"`
}

// StopReply is the generic acknowledgement.
type StopReply struct {
	Error string `json:"error,omitempty"`
}

// StreamEventRequest asks the mediad of a publisher to fan a stream event out to every subscriber
// (sendStreamEvent, docs/protocol.md §B.10). Mute types also update the stream's mute state.
type StreamEventRequest struct {
	Owner                   // the publisher's media session
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Kinds of MediaEvent.
const (
	EventState       = "state"       // State/Info set
	EventRate        = "rate"        // Rate set, once a second per media session
	EventFormat      = "format"      // Width/Height of the published picture changed
	EventStreamEvent = "streamEvent" // StreamEvent set; deliver as notifyStreamEvent
)

// Media session states reported in EventState.
const (
	StateConnected = "connected" // ICE+DTLS up: the signal sends PUBLISHING/PLAYING
	StateFailed    = "failed"    // ICE/DTLS failure or timeout: FAILED with Info
	StateClosed    = "closed"    // ended by the daemon (e.g. publisher stopped): FAILED/STOPPED with Info
)

// MediaEvent is what a mediad tells the signal node owning a media session.
type MediaEvent struct {
	Owner
	Kind        string          `json:"kind"`
	Publisher   bool            `json:"publisher"`
	State       string          `json:"state,omitempty"`
	Info        string          `json:"info,omitempty"`
	Rate        *Rate           `json:"rate,omitempty"`
	Width       int             `json:"width,omitempty"`
	Height      int             `json:"height,omitempty"`
	StreamEvent *StreamEventMsg `json:"streamEvent,omitempty"`
}

// Rate is one second of video statistics for one media session (docs/protocol.md §C.18): what the daemon
// received from a publisher, or what it sent to a player.
type Rate struct {
	VideoRate   int64 `json:"videoRate"` // bit/s
	FPS         int   `json:"fps"`
	NACK        int64 `json:"nack"`
	PLI         int64 `json:"pli"`
	LostPackets int64 `json:"lostPackets"`
	Width       int   `json:"width"`
	Height      int   `json:"height"`
}

// StreamEventMsg is a stream event to deliver to a subscriber.
type StreamEventMsg struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Directory (JetStream KV) buckets.
const (
	BucketNodes   = "potok_nodes"   // node id → NodeRecord, refreshed every NodeHeartbeat
	BucketStreams = "potok_streams" // StreamKey(name) → StreamRecord, claimed with Create
)

// Heartbeat timing of the nodes bucket.
const (
	// NodeHeartbeat: every node rewrites its record this often.
	NodeHeartbeat = time.Second
	// NodeDownAfter: a media daemon not heard from for this long is down for the signal nodes:
	// its clients get their terminal status and its stream names are free (design.md "Failure").
	// Five missed heartbeats: a loaded machine misses one now and then, a killed daemon all.
	NodeDownAfter = 5 * time.Second
	// NodeTTL: a record not refreshed within it expires from the bucket; a signal node whose
	// record has gone is dead to the media daemons, which end its sessions.
	NodeTTL = 10 * time.Second
)

// Node kinds.
const (
	KindMediad = "mediad"
	KindSignal = "signal"
)

// NodeRecord is a node's heartbeat entry.
type NodeRecord struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	MediaSessions int    `json:"mediaSessions"` // load used to place new sessions
	Started       int64  `json:"started"`       // epoch ms
	Version       string `json:"version"`
	// Load is what the node carries, measured over the last heartbeat; placement and the
	// load-balancer lookup pick the least loaded (design.md "Control plane").
	Load Load `json:"load"`
	// Endpoint is where clients reach a signal node (the lbUrl answer, docs/protocol.md §H.7);
	// empty for media daemons.
	Endpoint *Endpoint `json:"endpoint,omitempty"`
	// Draining: the node takes no new sessions (SIGTERM received, it is finishing the old ones).
	Draining bool `json:"draining,omitempty"`
}

// Load of a node over its last heartbeat interval.
type Load struct {
	Sessions        int     `json:"sessions"`        // WebSocket sessions (signal)
	PeerConnections int     `json:"peerConnections"` // WebRTC peer connections (mediad)
	Tracks          int     `json:"tracks"`          // published tracks (mediad)
	Relays          int     `json:"relays"`          // relays to and from other media daemons (mediad)
	Pulls           int     `json:"pulls"`           // streams pulled from other servers (mediad, /pull/pull)
	PacketsIn       float64 `json:"packetsIn"`       // RTP packets per second received
	PacketsOut      float64 `json:"packetsOut"`      // RTP packets per second sent
	CPU             float64 `json:"cpu"`             // process CPU, cores (1.0 = one core busy)
}

// Endpoint is a signal node's public address: host and the ports of its listeners (0 = none).
type Endpoint struct {
	Host  string `json:"host"`
	WS    int    `json:"ws"`
	WSS   int    `json:"wss"`
	HTTP  int    `json:"http"`
	HTTPS int    `json:"https"`
}

// StreamRecord is a published stream in the directory. Its key is claimed with create-if-absent,
// which makes a stream name unique across the cluster (docs/protocol.md §E.6).
type StreamRecord struct {
	Name           string `json:"name"`
	MediaNode      string `json:"mediaNode"`
	MediaStarted   int64  `json:"mediaStarted,omitempty"`  // incarnations (NodeRecord.Started) of the
	SignalStarted  int64  `json:"signalStarted,omitempty"` // owners: a restarted node holds no old claim
	MediaSessionID string `json:"mediaSessionId"`
	SignalNode     string `json:"signalNode"`
	SessionID      string `json:"sessionId"`
	Created        int64  `json:"created"` // epoch ms
}

// StreamKey maps any stream name to a valid KV key (KV keys allow only [-/_=.a-zA-Z0-9]). It is a
// hash, so its length is fixed: a KV key travels in a NATS subject, and a subject longer than the
// server's control-line limit closes the whole connection, not just the request.
func StreamKey(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "s." + hex.EncodeToString(sum[:])
}

// NodeKey maps a node id to its KV key.
func NodeKey(id string) string {
	return "n." + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}

// RESTQuerySubject is where every signal node answers the management REST API's questions about
// its own sessions (docs/protocol.md §G): the node asked by a backend publishes a RESTQuery there
// with a reply inbox and gathers one RESTAnswer per live signal node.
const RESTQuerySubject = "potok.rest.query"

// REST query operations and their bodies → answers.
const (
	QueryFindStreams      = "findStreams"         // rest.StreamFilter → []rest.Stream
	QueryTerminateStreams = "terminateStreams"    // rest.StreamFilter → int
	QueryFindConnections  = "findConnections"     // rest.ConnectionFilter → []rest.Connection
	QueryTerminateConn    = "terminateConnection" // rest.ConnectionFilter (sessionId) → bool
	QuerySendData         = "sendData"            // rest.DataSend → bool
	QueryClientLog        = "clientLog"           // rest.ClientLog → bool
	QueryStats            = "stats"               // → map[string]map[string]any
	QueryFindCalls        = "findCalls"           // rest.CallFilter → []rest.Call
	QueryTerminateCall    = "terminateCall"       // rest.CallFilter (callId) → bool
	QueryCallDTMF         = "callDtmf"            // rest.CallDTMF → bool (an error: found, not sent)
	QueryNodeLog          = "nodeLog"             // rest.NodeLogRequest → *rest.NodeLogLevel (null: not this node)
)

// RESTQuery is one question to every signal node.
type RESTQuery struct {
	Op   string          `json:"op"`
	Body json.RawMessage `json:"body,omitempty"`
}

// RESTAnswer is one signal node's answer: Body is the operation's result.
type RESTAnswer struct {
	NodeID string          `json:"nodeId"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Re-attaching a keepAlive session through another signal node (docs/protocol.md §H.8). A
// session whose socket was lost waits on ReattachSubject(its id); a signal node given a
// connection with that authToken asks there (a ReattachRequest; no responder means no session
// waits) and, when the owner takes it, carries the socket's frames over a tunnel: the client's
// frames on TunnelSubject(id, TunnelUp), the session's on TunnelSubject(id, TunnelDown). The
// session stays where it lives; the tunnel only moves frames.
const (
	TunnelUp   = "up"
	TunnelDown = "down"
	// TunnelHeader marks a tunnel message that is not a frame: TunnelClose (down: close the
	// socket with TunnelCodeHeader and TunnelReasonHeader), TunnelLost or TunnelClosed (up: the
	// socket was lost, or closed by its page), TunnelTooLarge (up: a frame too large to carry,
	// its wsconn.TooLarge as JSON).
	TunnelHeader       = "Potok-Tunnel"
	TunnelCodeHeader   = "Potok-Code"
	TunnelReasonHeader = "Potok-Reason"
	TunnelClose        = "close"
	TunnelLost         = "lost"
	TunnelClosed       = "closed"
	TunnelTooLarge     = "toolarge"
)

// ReattachSubject is where a detached keepAlive session waits for its socket.
func ReattachSubject(sessionID string) string { return "potok.reattach." + sessionID }

// TunnelSubject is one direction of a re-attach tunnel.
func TunnelSubject(tunnelID, dir string) string { return "potok.tunnel." + tunnelID + "." + dir }

// ReattachRequest offers a detached session the socket a signal node holds.
type ReattachRequest struct {
	Node   string                     `json:"node"`   // the signal node holding the socket
	Tunnel string                     `json:"tunnel"` // the tunnel's id (TunnelSubject)
	Fields map[string]json.RawMessage `json:"fields"` // the new connection message
}

// ReattachReply answers a ReattachRequest: taken, by the session's node.
type ReattachReply struct {
	OK   bool   `json:"ok"`
	Node string `json:"node,omitempty"`
}
