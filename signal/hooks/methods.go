package hooks

import "slices"

// Hook method names, spelled as WCS posts them: the last path element of the request and the
// keys of restClientConfig (docs/protocol.md §F). The SIP ones are a seam for the SIP gateway;
// nothing in the signalling tier calls them yet.
const (
	Connect                 = "connect"
	ConnectionStatusEvent   = "ConnectionStatusEvent"
	PublishStream           = "publishStream"
	UnPublishStream         = "unPublishStream"
	PlayStream              = "playStream"
	StopStream              = "stopStream"
	StreamStatusEvent       = "StreamStatusEvent"
	StreamKeepAliveEvent    = "StreamKeepAliveEvent"
	OnDataEvent             = "OnDataEvent"
	DataStatusEvent         = "DataStatusEvent"
	SendStreamEvent         = "sendStreamEvent"
	StreamEvent             = "StreamEvent"
	ErrorEvent              = "ErrorEvent"
	Call                    = "call"
	Answer                  = "answer"
	Hangup                  = "hangup"
	Hold                    = "hold"
	Unhold                  = "unhold"
	Transfer                = "transfer"
	SendDTMF                = "sendDTMF"
	CallStatusEvent         = "CallStatusEvent"
	TransferStatusEvent     = "TransferStatusEvent"
	SendMessage             = "sendMessage"
	MessageStatusEvent      = "MessageStatusEvent"
	OnMessageEvent          = "OnMessageEvent"
	RegistrationStatusEvent = "RegistrationStatusEvent"
	OnCallEvent             = "OnCallEvent"
)

// MethodKind is how WCS's error matrix treats a method's interaction errors (see Decide).
type MethodKind string

// The four kinds of WCS's "Four types of REST methods".
const (
	KindConnect  MethodKind = "connect"  // the connection itself: always declined on error
	KindDirect   MethodKind = "direct"   // a client request the backend may veto or rewrite
	KindEvent    MethodKind = "event"    // a notification; the response gates nothing
	KindIncoming MethodKind = "incoming" // a request from the SIP side
)

// catalogue is every method Potok knows, with its kind. unvetoable marks the direct methods
// whose veto WCS calls pointless (the stream or call ends anyway).
var catalogue = map[string]struct {
	kind       MethodKind
	unvetoable bool
}{
	Connect:                 {kind: KindConnect},
	ConnectionStatusEvent:   {kind: KindEvent},
	PublishStream:           {kind: KindDirect},
	UnPublishStream:         {kind: KindDirect, unvetoable: true},
	PlayStream:              {kind: KindDirect},
	StopStream:              {kind: KindDirect, unvetoable: true},
	StreamStatusEvent:       {kind: KindEvent},
	StreamKeepAliveEvent:    {kind: KindEvent},
	OnDataEvent:             {kind: KindDirect},
	DataStatusEvent:         {kind: KindEvent},
	SendStreamEvent:         {kind: KindDirect},
	StreamEvent:             {kind: KindEvent},
	ErrorEvent:              {kind: KindEvent},
	Call:                    {kind: KindDirect},
	Answer:                  {kind: KindDirect},
	Hangup:                  {kind: KindDirect, unvetoable: true},
	Hold:                    {kind: KindDirect},
	Unhold:                  {kind: KindDirect},
	Transfer:                {kind: KindDirect},
	SendDTMF:                {kind: KindDirect},
	CallStatusEvent:         {kind: KindEvent},
	TransferStatusEvent:     {kind: KindEvent},
	SendMessage:             {kind: KindDirect},
	MessageStatusEvent:      {kind: KindEvent},
	OnMessageEvent:          {kind: KindIncoming},
	RegistrationStatusEvent: {kind: KindEvent},
	OnCallEvent:             {kind: KindIncoming},
}

// aliases are the other spellings WCS's own documents use for a method: the DTMF hook is
// listed as sendDtmf (the WS message's name) beside sendDTMF, and client data as sendData beside
// OnDataEvent, which is what WCS posts.
var aliases = map[string]string{
	"sendDtmf": SendDTMF,
	"sendData": OnDataEvent,
}

// Normalize maps an alias to the method WCS posts (sendDtmf → sendDTMF, sendData → OnDataEvent)
// and returns any other name as it is: method names are case-sensitive, as in WCS.
func Normalize(method string) string {
	if m, ok := aliases[method]; ok {
		return m
	}
	return method
}

// AllMethods is every method Potok knows, sorted: what "add app-rest-method -a" enables.
func AllMethods() []string {
	out := make([]string, 0, len(catalogue))
	for m := range catalogue {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// Known reports whether method (normalised) is one Potok knows.
func Known(method string) bool {
	_, ok := catalogue[Normalize(method)]
	return ok
}

// Kind is the kind of method (normalised). A method Potok does not know is an event, so that an
// error of a hook nobody defined can never block an operation.
func Kind(method string) MethodKind {
	if e, ok := catalogue[Normalize(method)]; ok {
		return e.kind
	}
	return KindEvent
}

// Enabled reports whether method is in methods (an app's Methods), both sides normalised. A method not enabled is skipped as approved (docs/protocol.md §F).
func Enabled(methods []string, method string) bool {
	method = Normalize(method)
	for _, m := range methods {
		if Normalize(m) == method {
			return true
		}
	}
	return false
}

// label is the method as a metric label value: unknown names are "other", so a misconfigured
// app cannot grow the series without bound.
func label(method string) string {
	if _, ok := catalogue[method]; ok {
		return method
	}
	return "other"
}
