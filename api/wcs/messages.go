package wcs

import "encoding/json"

// Client → server message names (docs/protocol.md §B.0).
const (
	MsgConnection      = "connection"
	MsgConnect         = "connect" // legacy alias of connection (§B.1)
	MsgPong            = "pong"
	MsgPing            = "ping"
	MsgPublishStream   = "publishStream"
	MsgPlayStream      = "playStream"
	MsgUnPublishStream = "unPublishStream"
	MsgStopStream      = "stopStream"
	MsgAvailableStream = "availableStream"
	MsgSnapshot        = "snapshot"
	MsgSendStreamEvent = "sendStreamEvent"
	MsgSendData        = "sendData"
	MsgCall            = "call"
	MsgAnswer          = "answer"
	MsgHangup          = "hangup"
	MsgHold            = "hold"
	MsgUnhold          = "unhold"
	MsgSendDtmf        = "sendDtmf"
	MsgTransfer        = "transfer"
	// Legacy SIP MESSAGE (§B.23, §E.15): not sent by WebSDK 2.0, served for older clients.
	MsgSendMessage        = "sendMessage"
	MsgNotificationResult = "notificationResult"
	MsgSubmitBugReport    = "submitBugReport"
	MsgSessionDebug       = "sessionDebug"
	MsgPushLogs           = "pushLogs"
)

// Server → client message names (docs/protocol.md §C).
const (
	MsgGetUserData             = "getUserData"
	MsgGetVersion              = "getVersion"
	MsgSetRemoteSDP            = "setRemoteSDP"
	MsgNotifyStreamStatusEvent = "notifyStreamStatusEvent"
	MsgNotifyVideoFormat       = "notifyVideoFormat"
	MsgNotifyAudioCodec        = "notifyAudioCodec"
	MsgNotifyStreamEvent       = "notifyStreamEvent"
	MsgDataStatusEvent         = "DataStatusEvent"
	MsgOnDataEvent             = "OnDataEvent"
	MsgFail                    = "fail"
	MsgInboundVideoRate        = "inboundVideoRate"
	MsgOutboundVideoRate       = "outboundVideoRate"
	MsgNotifySessionDebugEvent = "notifySessionDebugEvent"
	MsgFinish                  = "finish"
)

// CallStatus is the object of the call status messages (§C.15); finish with a terminal status
// makes the SDK drop the call.
type CallStatus struct {
	CallID string `json:"callId"`
	Status string `json:"status"`
	Info   string `json:"info,omitempty"`
}

// Connection is the typed view of the `connection` message (§B.1). The server must echo every field
// it received in getUserData, so the raw object is kept alongside (see UserData).
type Connection struct {
	AppKey               String          `json:"appKey"`
	MediaProviders       []string        `json:"mediaProviders"`
	KeepAlive            Bool            `json:"keepAlive"`
	AuthToken            String          `json:"authToken"`
	ClientVersion        String          `json:"clientVersion"`
	ClientOSVersion      String          `json:"clientOSVersion"`
	ClientBrowserVersion String          `json:"clientBrowserVersion"`
	Custom               json.RawMessage `json:"custom,omitempty"`
	SipLogin             String          `json:"sipLogin"`
	SipRegisterRequired  Bool            `json:"sipRegisterRequired"`
}

// StreamRequest is the body of publishStream, playStream, unPublishStream and stopStream
// (§B.4–§B.7). Absent fields mean defaults (§A.3).
type StreamRequest struct {
	MediaSessionID String          `json:"mediaSessionId"`
	Name           String          `json:"name"`
	Published      Bool            `json:"published"`
	HasVideo       Bool            `json:"hasVideo"`
	HasAudio       Bool            `json:"hasAudio"`
	Status         String          `json:"status"`
	Record         Bool            `json:"record"`
	MediaProvider  String          `json:"mediaProvider"`
	SDP            String          `json:"sdp"`
	Custom         json.RawMessage `json:"custom,omitempty"`
	Bitrate        Int             `json:"bitrate"`
	MinBitrate     Int             `json:"minBitrate"`
	MaxBitrate     Int             `json:"maxBitrate"`
	Width          Int             `json:"width"`
	Height         Int             `json:"height"`
	Quality        Int             `json:"quality"`
	RtmpURL        String          `json:"rtmpUrl"`
	Transport      String          `json:"transport"`
	CvoExtension   Bool            `json:"cvoExtension"`
}

// AvailableStreamRequest is the body of availableStream (§B.8).
type AvailableStreamRequest struct {
	MediaSessionID String `json:"mediaSessionId"`
	Name           String `json:"name"`
}

// SendStreamEventRequest is the body of sendStreamEvent (§B.10).
type SendStreamEventRequest struct {
	MediaSessionID String          `json:"mediaSessionId"`
	Type           String          `json:"type"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

// SendDataRequest is the body of sendData (§B.11).
type SendDataRequest struct {
	OperationID String          `json:"operationId"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// MuteState is a publisher's audioState / videoState (§C.6).
type MuteState struct {
	Muted bool `json:"muted"`
}

// Stream is the object of notifyStreamStatusEvent (§C.6). The SDK routes by MediaSessionID.
type Stream struct {
	MediaSessionID string          `json:"mediaSessionId"`
	Name           string          `json:"name"`
	Published      bool            `json:"published"`
	HasVideo       bool            `json:"hasVideo"`
	HasAudio       bool            `json:"hasAudio"`
	Status         string          `json:"status"`
	Info           string          `json:"info"`
	AudioCodec     string          `json:"audioCodec,omitempty"`
	VideoCodec     string          `json:"videoCodec,omitempty"`
	Record         bool            `json:"record"`
	RecordName     string          `json:"recordName,omitempty"`
	Width          int             `json:"width"`
	Height         int             `json:"height"`
	Bitrate        int             `json:"bitrate"`
	MinBitrate     int             `json:"minBitrate"`
	MaxBitrate     int             `json:"maxBitrate"`
	Quality        int             `json:"quality"`
	CreateDate     int64           `json:"createDate"`
	MediaProvider  string          `json:"mediaProvider"`
	AudioState     *MuteState      `json:"audioState,omitempty"`
	VideoState     *MuteState      `json:"videoState,omitempty"`
	Custom         json.RawMessage `json:"custom,omitempty"`
}

// VideoFormat is the object of notifyVideoFormat (§C.7).
type VideoFormat struct {
	MediaSessionID      string `json:"mediaSessionId"`
	Status              string `json:"status"` // always "RESIZE"
	StreamerVideoWidth  int    `json:"streamerVideoWidth"`
	StreamerVideoHeight int    `json:"streamerVideoHeight"`
}

// StreamEvent is the object of notifyStreamEvent (§C.9), routed by the recipient's MediaSessionID.
type StreamEvent struct {
	MediaSessionID string          `json:"mediaSessionId"`
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload,omitempty"`
}

// AvailableStream is the reply to availableStream (§C.10). Status is the STRING "true"/"false":
// the SDK compares with == "true" (§0 rule 7).
type AvailableStream struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Info   string `json:"info,omitempty"`
}

// DataStatus is the DataStatusEvent object (§C.11); Status is exactly ACCEPTED or FAILED.
type DataStatus struct {
	OperationID string `json:"operationId"`
	Status      string `json:"status"`
	Info        string `json:"info,omitempty"`
}

// Fail is the object of the fail message (§C.13). For StreamStatusEvent failures ID carries the
// mediaSessionId, which is what the SDK routes by.
type Fail struct {
	Status         string `json:"status"`
	Info           string `json:"info"`
	APIMethod      string `json:"apiMethod,omitempty"`
	ID             string `json:"id,omitempty"`
	MediaSessionID string `json:"mediaSessionId,omitempty"`
	Name           string `json:"name,omitempty"`
	Published      *bool  `json:"published,omitempty"`
}

// VideoRate is the object of inboundVideoRate / outboundVideoRate (§C.18), sent once a second.
type VideoRate struct {
	MediaSessionID string `json:"mediaSessionId"`
	VideoRate      int64  `json:"videoRate"` // bit/s
	FPS            int    `json:"fps"`
	NACK           int64  `json:"nack"`
	PLI            int64  `json:"pli"`
	LostPackets    int64  `json:"lostPackets"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
}

// UserData builds the getUserData object (§C.1): every field the client sent in connection, echoed,
// with the server's fields set over them. raw is the connection object as received.
func UserData(raw map[string]json.RawMessage, authToken string) map[string]any {
	out := make(map[string]any, len(raw)+8)
	for k, v := range raw {
		out[k] = v
	}
	out["authToken"] = authToken
	out["status"] = SessionEstablished
	out["useWsTunnel"] = false
	out["useWsTunnelPacketization2"] = false
	out["useBase64BinaryEncoding"] = false
	out["forceLogger"] = false
	if _, ok := raw["keepAlive"]; !ok {
		out["keepAlive"] = false
	}
	if _, ok := raw["mediaProviders"]; !ok {
		out["mediaProviders"] = []string{"WebRTC"}
	}
	return out
}
