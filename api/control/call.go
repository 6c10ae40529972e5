package control

// SIP calls (docs/protocol.md §E.9, §E.10): a media daemon bridges a call's WebRTC leg (the
// browser) and its plain RTP leg (the SIP peer) without transcoding, when the two share a codec.
// The signal node runs the SIP dialog and carries the SDP of each leg to the other side.
//
// Outgoing call (the browser calls):
//
//	OpCall {Outgoing, WebRTCOffer}  → {SIPOffer}       the INVITE's SDP, the browser's codecs
//	OpCallAnswer {SIPAnswer}        → {WebRTCAnswer}   the codec the SIP peer chose, for the browser
//
// Incoming call (a SIP peer calls the browser):
//
//	OpCall {SIPOffer}               → {WebRTCOffer, SIPAnswer}   the codec is chosen from the offer
//	OpCallAnswer {WebRTCAnswer}     → {}                          the browser answered
//
// A call ends with OpStop, and its media session's events (connected, failed, closed) go to the
// owner as a publisher's do. Owner.MediaSessionID is the callId.
const (
	OpCall       = "call"       // CallRequest → CallReply
	OpCallAnswer = "callAnswer" // CallAnswerRequest → CallAnswerReply
	OpCallHold   = "callHold"   // CallHoldRequest → CallHoldReply
	OpCallDTMF   = "callDtmf"   // CallDTMFRequest → StopReply
)

// ErrNoTelephoneEvent: the SIP peer negotiated no telephone-event, so RFC 4733 DTMF cannot be sent.
const ErrNoTelephoneEvent = "the SIP peer has no telephone-event"

// CallDTMFRequest sends one DTMF symbol (0-9, *, #, A-D) to the SIP peer as RFC 4733 events.
type CallDTMFRequest struct {
	Owner
	Symbol string `json:"symbol"`
}

// CallRequest opens a call's media on a daemon.
type CallRequest struct {
	Owner
	Outgoing    bool   `json:"outgoing"`
	WebRTCOffer string `json:"webrtcOffer,omitempty"` // outgoing: the browser's offer
	SIPOffer    string `json:"sipOffer,omitempty"`    // incoming: the SIP peer's offer
	Transport   string `json:"transport,omitempty"`   // the WebRTC leg's ICE: "UDP" (default) or "TCP"
}

// CallReply carries what the signal node sends on: the SDP offer of the RTP leg for the INVITE
// (outgoing), or the offer for the browser and the answer for the SIP peer (incoming).
type CallReply struct {
	SIPOffer    string `json:"sipOffer,omitempty"`
	WebRTCOffer string `json:"webrtcOffer,omitempty"`
	SIPAnswer   string `json:"sipAnswer,omitempty"`
	HasVideo    bool   `json:"hasVideo"`
	AudioCodec  string `json:"audioCodec,omitempty"` // incoming: the codec chosen (WCS spelling)
	Error       string `json:"error,omitempty"`
}

// CallAnswerRequest completes a call's negotiation with the other side's answer.
type CallAnswerRequest struct {
	Owner
	SIPAnswer    string `json:"sipAnswer,omitempty"`    // outgoing: from the SIP peer's 183 or 200
	WebRTCAnswer string `json:"webrtcAnswer,omitempty"` // incoming: from the browser's answer
}

// CallAnswerReply carries the browser's answer of an outgoing call.
type CallAnswerReply struct {
	WebRTCAnswer string `json:"webrtcAnswer,omitempty"`
	AudioCodec   string `json:"audioCodec,omitempty"` // the codec both legs use (WCS spelling)
	Error        string `json:"error,omitempty"`
}

// CallHoldRequest stops or resumes the media between the legs: a call on hold relays nothing
// either way (docs/protocol.md §E.11). Without SIPOffer the browser asked (Hold says which), and
// the reply carries the re-INVITE's SDP (sendonly or sendrecv); with SIPOffer the SIP peer sent a
// re-INVITE, whose direction says which (sendonly or inactive: hold), and the reply carries the
// answer.
type CallHoldRequest struct {
	Owner
	Hold     bool   `json:"hold"`
	SIPOffer string `json:"sipOffer,omitempty"`
}

// CallHoldReply is the RTP leg's SDP for the re-INVITE (SIPOffer) or for its answer (SIPAnswer),
// and whether the call is held now.
type CallHoldReply struct {
	SIPOffer  string `json:"sipOffer,omitempty"`
	SIPAnswer string `json:"sipAnswer,omitempty"`
	Hold      bool   `json:"hold"`
	Error     string `json:"error,omitempty"`
}
