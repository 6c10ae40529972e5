package wcs

// Session and connection statuses (docs/protocol.md §D.1, §D.2).
const (
	SessionEstablished  = "ESTABLISHED"
	SessionFailed       = "FAILED"
	SessionDisconnected = "DISCONNECTED"
)

// Stream statuses (§D.3). UNPUBLISHED, STOPPED and FAILED are terminal: the SDK forgets the id.
const (
	StatusNew         = "NEW"
	StatusPending     = "PENDING"
	StatusPublishing  = "PUBLISHING"
	StatusPlaying     = "PLAYING"
	StatusUnpublished = "UNPUBLISHED"
	StatusStopped     = "STOPPED"
	StatusFailed      = "FAILED"
	StatusResize      = "RESIZE"
)

// Data statuses (§C.11): exactly these two, the SDK indexes a table with them.
const (
	DataAccepted = "ACCEPTED"
	DataFailed   = "FAILED"
)

// Stream event types (§C.9, §D.9).
const (
	EventAudioMuted   = "audioMuted"
	EventAudioUnmuted = "audioUnmuted"
	EventVideoMuted   = "videoMuted"
	EventVideoUnmuted = "videoUnmuted"
	EventData         = "data"
	EventResize       = "resize"
)

// Stream info strings (STREAM_STATUS_INFO, §D.4). Clients compare them literally.
const (
	InfoICEError                 = "Failed by ICE error"
	InfoICETimeout               = "Failed by ICE timeout"
	InfoKeepAlive                = "Failed by ICE keep alive"
	InfoDTLSFingerprintError     = "Failed by DTLS fingerprint error"
	InfoDTLSError                = "Failed by DTLS error"
	InfoRTPActivity              = "Failed by RTP activity"
	InfoStoppedBySessionDisconn  = "Stopped by session disconnect"
	InfoStoppedByRestTerminate   = "Stopped by rest /terminate"
	InfoStoppedByPublisherStop   = "Stopped by publisher stop"
	InfoStoppedByUser            = "Stopped by user"
	InfoFailedByError            = "Failed by error"
	InfoStreamNotFound           = "Stream not found"
	InfoStreamNameAlreadyInUse   = "Stream name is already in use"
	InfoMediaSessionIDNull       = "MediaSessionId is null"
	InfoMediaSessionIDInUse      = "MediaSessionId is already in use"
	InfoSessionNotReady          = "Session not ready"
	InfoStreamFailed             = "Stream failed"
	InfoNoCommonCodecs           = "No common codecs"
	InfoRestrictedAccess         = "Restricted access"
	InfoTranscodingRequiredNoTrn = "Transcoding required, but disabled"
	InfoTerminatedByKeepAlive    = "Terminated by keep-alive"
)

// Potok's own limits and their info texts (WCS documents none; these are new strings).
const (
	// MaxStreamNameBytes bounds a stream name: it is stored in the cluster directory and echoed in
	// every status event of every player.
	MaxStreamNameBytes = 1024
	// MaxMediaSessions bounds the publish/play media sessions one connection may hold at once;
	// each costs a peer connection on a media daemon.
	MaxMediaSessions = 64

	InfoStreamNameTooLong    = "Stream name is too long"
	InfoTooManyMediaSessions = "Too many media sessions on this connection"

	// InfoControlPlaneDown: the signal node cannot reach NATS, so it can neither place a new
	// media session nor find a stream; or the outage outlasted the grace and the stream ended.
	InfoControlPlaneDown = "Control plane unavailable"
	// InfoMediaNodeLost: the media daemon holding the stream stopped heartbeating (crashed,
	// killed or cut off).
	InfoMediaNodeLost = "Media server lost"
	// InfoNoMediaNode: no media daemon is alive to take a publish.
	InfoNoMediaNode = "No available media servers"
	// InfoMediaNodeDraining: a publish or play reached a media daemon that is draining (SIGTERM):
	// signal nodes place nothing there once they have its heartbeat, so only a request racing
	// that heartbeat gets it.
	InfoMediaNodeDraining = "Media server is draining"
	// InfoMediaNodeShutdown: the stream was still on a draining media daemon when its grace
	// (--drain-grace) ran out.
	InfoMediaNodeShutdown = "Media server shutdown"

	// Features a client may ask for that Potok does not have yet (README "Not implemented yet"):
	// each request gets its terminal answer with one of these, so no page waits forever.
	InfoCallsNotSupported           = "SIP calls are not supported by this server yet"
	InfoSIPRegistrationNotSupported = "SIP registration is not supported by this server yet"
	// InfoMediaProviderNotSupported is followed by the provider's name.
	InfoMediaProviderNotSupported = "Media provider not supported, use WebRTC: "
)

// Call statuses of the finish message (§C.15).
const (
	CallFailed = "FAILED"
	CallFinish = "FINISH"
)

// knownInfos are the info texts a media daemon may put in a state event or a reply error: WCS's
// and Potok's own. Anything else arriving over the control plane is not shown to a client
// (docs/protocol.md §D.4).
var knownInfos = map[string]bool{"": true}

func init() {
	for _, s := range []string{InfoICEError, InfoICETimeout, InfoKeepAlive, InfoDTLSFingerprintError,
		InfoDTLSError, InfoRTPActivity, InfoStoppedBySessionDisconn, InfoStoppedByRestTerminate,
		InfoStoppedByPublisherStop, InfoStoppedByUser, InfoFailedByError, InfoStreamNotFound,
		InfoStreamNameAlreadyInUse, InfoMediaSessionIDNull, InfoMediaSessionIDInUse, InfoSessionNotReady,
		InfoStreamFailed, InfoNoCommonCodecs, InfoRestrictedAccess, InfoTranscodingRequiredNoTrn,
		InfoStreamNameTooLong, InfoTooManyMediaSessions, InfoControlPlaneDown, InfoMediaNodeLost,
		InfoNoMediaNode, InfoMediaNodeDraining, InfoMediaNodeShutdown} {
		knownInfos[s] = true
	}
	// WCS's other STREAM_STATUS_INFO strings (docs/protocol.md §D.4): Potok does not produce them
	// yet, but a daemon of a later version may.
	for _, s := range []string{"Failed by HLS writer error", "Failed by RTMP writer error",
		"Failed to add stream to proxy", "Distributor stopped", "Publish stream is not ready",
		"Session does not exist", "Rtsp has wrong format", "File has wrong format",
		"Failed to connect to rtsp stream", "Rtsp stream not found", "RtspAgent shutdown", "Bad URI",
		"Got exception while streaming file", "Requested stream shutdown", "Failed to read file",
		"File not found", "Failed to connect to origin stream", "CDN stream not found",
		"Failed to get agent storage", "Agent servicing origin stream is shutting down",
		InfoTerminatedByKeepAlive, "No available transcoders"} {
		knownInfos[s] = true
	}
}

// KnownInfo reports whether s is one of the info texts WCS or Potok defines (or empty).
func KnownInfo(s string) bool { return knownInfos[s] }

// API method names carried in fail.apiMethod (§C.13).
const (
	APIConnectionStatusEvent = "ConnectionStatusEvent"
	APIStreamStatusEvent     = "StreamStatusEvent"
	APIDataStatusEvent       = "DataStatusEvent"
	APIRegistrationStatus    = "RegistrationStatusEvent"
)

// Version is what getVersion reports (§C.2): WCS's format, with Potok's own build after the dash.
var Version = "5.2.0-potok"
