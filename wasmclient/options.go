package wasmclient

import (
	"encoding/json"
	"runtime"
	"time"

	"github.com/rs/zerolog"
)

// Network chooses which local addresses the client's ICE agent uses.
type Network int

// Network modes.
const (
	// NetworkAuto uses loopback only when the WebSocket host is a loopback address, so tests on
	// 127.0.0.1 never touch other interfaces, and all interfaces otherwise.
	NetworkAuto Network = iota
	// NetworkLoopback gathers only 127.0.0.1 and accepts only loopback remote candidates.
	NetworkLoopback
	// NetworkAll gathers every IPv4 interface address.
	NetworkAll
)

// SessionOptions configure Connect. Zero values give the WebSDK's defaults (docs/protocol.md §B.1).
type SessionOptions struct {
	AppKey               string          // default "defaultApp"
	Custom               json.RawMessage // forwarded to the connect hook; omitted when nil
	ClientOSVersion      string          // default GOOS/GOARCH
	ClientBrowserVersion string          // default "potok-wasmclient"
	// Extra fields merged into the connection object (e.g. sipLogin); they are echoed in getUserData.
	Extra map[string]any
	// Header is sent with the WebSocket upgrade (e.g. Origin).
	Header Header
	// HTTPClient makes the upgrade request (nil: http.DefaultClient); e.g. one that trusts a
	// self-signed wss:// certificate. Ignored in the browser.
	HTTPClient *HTTPClient
	// WriteTimeout bounds every WebSocket write (default 10 s).
	WriteTimeout time.Duration
	Network      Network
	Logger       *zerolog.Logger // default: silent
	// Reconnect keeps the session through a lost socket (docs/protocol.md §H.8): `connection`
	// asks for keepAlive, and when the socket is lost (not closed by either side) the client
	// dials the same URL again with its authToken, backing off from 250 ms to 4 s, for
	// ReconnectFor (default 60 s, the server's --keepalive-grace). Re-attached, its streams and
	// their peer connections go on and the statuses missed meanwhile arrive; a server that no
	// longer knows the session gives a new one, and the old streams end FAILED "Session lost".
	// Status is SessionReconnecting meanwhile.
	Reconnect    bool
	ReconnectFor time.Duration
	// OnStatus, when set, is called with every session status after ESTABLISHED (RECONNECTING,
	// ESTABLISHED again, DISCONNECTED, FAILED with why), from the session's read loop: it must
	// not block.
	OnStatus func(status string, err error)
	// OnData, when set, is called with every OnDataEvent the server pushes (the REST API's
	// /data/send, docs/protocol.md §C.12), on the read loop: it must not block. Session.Data
	// keeps the first 256 either way.
	OnData func(DataEvent)
}

func (o *SessionOptions) defaults() {
	if o.AppKey == "" {
		o.AppKey = "defaultApp"
	}
	if o.ClientOSVersion == "" {
		o.ClientOSVersion = runtime.GOOS + "/" + runtime.GOARCH
	}
	if o.ClientBrowserVersion == "" {
		o.ClientBrowserVersion = "potok-wasmclient"
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ReconnectFor <= 0 {
		o.ReconnectFor = 60 * time.Second
	}
}

// PublishOptions configure Session.Publish (docs/protocol.md §B.4).
type PublishOptions struct {
	Name   string
	Video  Source // nil: no video track
	Audio  Source // nil: no audio track
	Record bool
	// MinBitrate/MaxBitrate in kbps, 0 = unlimited, sent as the WebSDK does.
	MinBitrate, MaxBitrate int
	Custom                 json.RawMessage
	// Transport "TCP" asks for ICE over TCP (the WebSDK's transport option): the server offers
	// its ICE-TCP candidate and the client connects to that one only. "" or "UDP": UDP.
	Transport string
}

// PlayOptions configure Session.Play (docs/protocol.md §B.5).
type PlayOptions struct {
	Name          string
	Width, Height int // requested size, 0 = as published
	Custom        json.RawMessage
	// NoAudio leaves the audio m-line out, like the WebSDK with constraints.audio === false.
	NoAudio bool
	// Transport "TCP": ICE over TCP only, as PublishOptions.Transport.
	Transport string
	// RecordFile, when set, writes the received video to this path: IVF for VP8, Annex-B for
	// H.264, so tests can decode it with ffmpeg.
	RecordFile string
	// OnTrack, when set, takes every remote track over: it is called on a goroutine of the
	// session, which Close waits for, and reads the track itself (the receiver's transport
	// carries RTCP back, e.g. a key frame request). The stream's receive statistics then stay
	// empty. A media daemon pulling a stream from another server feeds its forwarder this way.
	OnTrack TrackFunc
}
