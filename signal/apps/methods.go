package apps

import (
	"slices"

	"github.com/potok-media/potok/api/rest"
)

// The hook method names this package knows, spelled as WCS posts them (docs/protocol.md §F.4).
// They mirror signal/hooks' constants, which were written at the same time; once both have
// landed this list should give way to that package's catalogue (hooks.Known, hooks.Normalize),
// so that the two can never disagree. Until then this file is the one place they are listed.
var (
	// signalling are the methods the signalling tier sends: what EchoApp enables and what
	// "all methods" (potok apps enable KEY --all, /app/method/add all:true) means.
	signalling = []string{
		"connect", "ConnectionStatusEvent",
		"publishStream", "unPublishStream", "playStream", "stopStream",
		"StreamStatusEvent", "StreamKeepAliveEvent",
		"OnDataEvent", "DataStatusEvent",
		"sendStreamEvent", "StreamEvent",
		"ErrorEvent",
	}
	// sip are WCS's SIP methods, sent on a node with SIP (--sip-listen); "all methods" leaves
	// them out, as it did before the gateway came, so that enabling every method of an app does
	// not start SIP hooks it never asked for.
	sip = []string{
		"call", "answer", "hangup", "hold", "unhold", "transfer", "sendDTMF",
		"CallStatusEvent", "RegistrationStatusEvent", "OnCallEvent", "TransferStatusEvent",
		"sendMessage", "MessageStatusEvent", "OnMessageEvent",
	}
	// aliases are the other spellings WCS's documents use: the DTMF hook under the WS
	// message's name, client data under the client call's name.
	aliases = map[string]string{"sendDtmf": "sendDTMF", "sendData": "OnDataEvent"}
)

// AllMethods returns the methods the signalling tier sends, sorted: EchoApp's set, and what
// enabling every method of an app gives it.
func AllMethods() []string {
	out := slices.Clone(signalling)
	slices.Sort(out)
	return out
}

// CanonicalMethod returns the name WCS posts for method (an alias resolved) and whether it is a
// known method. Names are case-sensitive, as in WCS.
func CanonicalMethod(method string) (string, bool) {
	if m, ok := aliases[method]; ok {
		method = m
	}
	return method, slices.Contains(signalling, method) || slices.Contains(sip, method)
}

// Enabled reports whether app calls method's hook (an alias of method counts as method). A
// method not enabled is skipped as approved (§F.2).
func Enabled(app rest.App, method string) bool {
	method, _ = CanonicalMethod(method)
	return slices.Contains(app.Methods, method)
}
