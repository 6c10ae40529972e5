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
)

// API method names carried in fail.apiMethod (§C.13).
const (
	APIConnectionStatusEvent = "ConnectionStatusEvent"
	APIStreamStatusEvent     = "StreamStatusEvent"
	APIDataStatusEvent       = "DataStatusEvent"
)

// Version is what getVersion reports (§C.2): WCS's format, with Potok's own build after the dash.
var Version = "5.2.0-potok"
