package wcs

import "encoding/json"

// SIP calls (§B.12–§B.18, §C.4, §C.14–§C.16, §D.5–§D.7).

// Call message names, server to client (the client's are in messages.go; the server's hold
// message shares its name with the client's, MsgHold).
const (
	MsgRegistered           = "registered"
	MsgNotifyIncomingCall   = "notifyIncomingCall"
	MsgNotifyTryingResponse = "notifyTryingResponse"
	MsgRing                 = "ring"
	MsgTalk                 = "talk"
	MsgNotifyTransferEvent  = "notifyTransferEvent"
	MsgNotifyMessage        = "notifyMessage" // legacy (§C.20, §E.15)
)

// Call statuses (§D.5). Terminal: CallFinish, CallFailed, CallBusy.
const (
	CallPending         = "PENDING"
	CallTrying          = "TRYING"
	CallRing            = "RING"
	CallSessionProgress = "SESSION_PROGRESS"
	CallBusy            = "BUSY"
	CallEstablished     = "ESTABLISHED"
	CallHold            = "HOLD"
)

// Call info strings (§D.5) and Potok's own for what WCS leaves unnamed.
const (
	InfoNormalCallClearing      = "Normal call clearing"
	InfoFailedBySessionCreation = "Failed by session creation"
	InfoFailedByRequestTimeout  = "Failed by request timeout"
	// InfoSIPNotConfigured: the node has no SIP user agent (--sip-listen "").
	InfoSIPNotConfigured = "SIP is not enabled on this server"
	// InfoNotRegistered: a call from a session without a SIP account.
	InfoNotRegistered = "No SIP account on this connection"
	// InfoCallNotFound: a call message names no call of this session.
	InfoCallNotFound = "Call not found"
	// InfoRingTimeout: nobody answered within the ring timeout.
	InfoRingTimeout = "Ring timeout"
)

func init() {
	for _, s := range []string{InfoNormalCallClearing, InfoFailedBySessionCreation, InfoFailedByRequestTimeout,
		InfoSIPNotConfigured, InfoNotRegistered, InfoCallNotFound, InfoRingTimeout} {
		knownInfos[s] = true
	}
}

// Registration statuses (§D.7).
const (
	RegistrationRegistered   = "REGISTERED"
	RegistrationUnregistered = "UNREGISTERED"
	RegistrationFailed       = "FAILED"
	RegistrationAuthFail     = "AUTHENTICATION_FAIL"
)

// CallRequest is the typed view of call and answer (§B.12, §B.13).
type CallRequest struct {
	CallID        String          `json:"callId"`
	Incoming      Bool            `json:"incoming"`
	HasAudio      Bool            `json:"hasAudio"`
	HasVideo      Bool            `json:"hasVideo"`
	SDP           string          `json:"sdp"`
	Caller        String          `json:"caller"`
	Callee        String          `json:"callee"`
	VisibleName   String          `json:"visibleName"`
	Custom        json.RawMessage `json:"custom,omitempty"`
	MediaProvider String          `json:"mediaProvider"`
}

// CallID is the typed view of hangup, hold, unhold (§B.14–§B.16).
type CallID struct {
	CallID String `json:"callId"`
}

// Call is the call object of the server's call messages (§C.14, §C.15, §G.3).
type Call struct {
	CallID        string          `json:"callId"`
	Incoming      bool            `json:"incoming"`
	Status        string          `json:"status"`
	Caller        string          `json:"caller"`
	Callee        string          `json:"callee"`
	VisibleName   string          `json:"visibleName,omitempty"`
	HasAudio      bool            `json:"hasAudio"`
	HasVideo      bool            `json:"hasVideo"`
	MediaProvider string          `json:"mediaProvider"`
	SIPStatus     int             `json:"sipStatus,omitempty"`
	SIPMessageRaw string          `json:"sipMessageRaw,omitempty"`
	Info          string          `json:"info,omitempty"`
	Custom        json.RawMessage `json:"custom,omitempty"`
}

// Registration is the object of registered and of a registration's fail (§C.4).
type Registration struct {
	Status        string `json:"status"`
	Info          string `json:"info,omitempty"`
	SIPMessageRaw string `json:"sipMessageRaw,omitempty"`
	APIMethod     string `json:"apiMethod,omitempty"`
}

// Transfer statuses (§C.16, §D.6).
const (
	TransferAccepted  = "ACCEPTED"
	TransferTrying    = "TRYING"
	TransferCompleted = "COMPLETED"
	TransferFailed    = "FAILED"
)

// TransferEvent is the object of notifyTransferEvent (§C.16): callId is a call of the session
// (the SDK calls its handler unguarded).
type TransferEvent struct {
	CallID        string `json:"callId"`
	Status        string `json:"status"`
	Incoming      bool   `json:"incoming"`
	Target        string `json:"target"`
	Info          string `json:"info,omitempty"`
	SIPMessageRaw string `json:"sipMessageRaw,omitempty"`
}

// SIP message statuses (§D.8).
const (
	MessageReceived = "RECEIVED"
	MessageAccepted = "ACCEPTED"
	MessageFailed   = "FAILED"
)

// SIPMessage is the first object of notifyMessage (§E.15): a message the page sent (its status)
// or one it received (RECEIVED).
type SIPMessage struct {
	ID             string `json:"id"`
	From           string `json:"from"`
	To             string `json:"to"`
	Body           string `json:"body"`
	ContentType    string `json:"contentType"`
	IsImdnRequired bool   `json:"isImdnRequired"`
	Status         string `json:"status"`
	Info           string `json:"info,omitempty"`
	SIPMessageRaw  string `json:"sipMessageRaw,omitempty"`
}
