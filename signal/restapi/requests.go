package restapi

import (
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/hooks"
)

// The decoders below turn a request body into the api/rest value an endpoint passes to the
// Backend. Each one reads only the members of its request (docs/protocol.md §G lists them) and
// answers 400 for a body that is not a JSON object, a member of the wrong type or a missing key.

// decodeStreamFilter reads the filter of /stream/find and /stream/terminate: every member is
// optional, and {} matches every stream.
func decodeStreamFilter(body []byte) (rest.StreamFilter, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.StreamFilter{}, err
	}
	sf := rest.StreamFilter{
		Name:            f.str("name"),
		MediaSessionID:  f.str("mediaSessionId"),
		MediaSessionIDs: f.strs("mediaSessionIds"),
		Status:          f.str("status"),
		Published:       f.boolean("published"),
		SessionID:       f.str("sessionId"),
		Display:         f.strs("display"),
	}
	return sf, f.err
}

// decodeConnectionFilter reads the filter of /connection/find.
func decodeConnectionFilter(body []byte) (rest.ConnectionFilter, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.ConnectionFilter{}, err
	}
	cf := rest.ConnectionFilter{
		AppKey:        f.str("appKey"),
		SessionID:     f.str("sessionId"),
		ClientVersion: f.str("clientVersion"),
	}
	return cf, f.err
}

// decodeCallFilter reads the filter of /call/find (callId, callee, status; rtmpUrl matches no
// call, since Potok has no RTMP calls yet).
func decodeCallFilter(body []byte) (rest.CallFilter, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.CallFilter{}, err
	}
	return rest.CallFilter{CallID: f.str("callId"), Callee: f.str("callee"), Status: f.str("status")}, f.err
}

// decodeCallID reads {callId} (/call/terminate).
func decodeCallID(body []byte) (string, error) {
	f, err := parseFields(body)
	if err != nil {
		return "", err
	}
	id := f.required("callId")
	return id, f.err
}

// decodeCallDTMF reads /call/send_dtmf: callId and dtmf required (dtmf may be a number), type
// RFC2833 unless given.
func decodeCallDTMF(body []byte) (rest.CallDTMF, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.CallDTMF{}, err
	}
	d := rest.CallDTMF{CallID: f.required("callId"), DTMF: f.symbol("dtmf"), Type: f.str("type")}
	if d.DTMF == "" && f.err == nil {
		f.err = badRequest("field %q is required", "dtmf")
	}
	return d, f.err
}

// decodeSessionID reads {sessionId} (/connection/terminate, /logger/disable_client_log).
func decodeSessionID(body []byte) (string, error) {
	f, err := parseFields(body)
	if err != nil {
		return "", err
	}
	id := f.required("sessionId")
	return id, f.err
}

// defaultClientLogLevel is the level /logger/enable_client_log uses when the call names none:
// the caller asked for logs, and INFO is the WebSDK's own default level.
const defaultClientLogLevel = "INFO"

// decodeClientLog reads {sessionId, logLevel} (/logger/enable_client_log,
// /connection/set_log_level).
func decodeClientLog(body []byte) (rest.ClientLog, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.ClientLog{}, err
	}
	cl := rest.ClientLog{SessionID: f.required("sessionId"), LogLevel: f.str("logLevel")}
	if cl.LogLevel == "" {
		cl.LogLevel = defaultClientLogLevel
	}
	return cl, f.err
}

// decodeNodeLog reads {logLevel, nodeId} (/logger/set_node_log_level); the level is required.
func decodeNodeLog(body []byte) (rest.NodeLogRequest, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.NodeLogRequest{}, err
	}
	req := rest.NodeLogRequest{LogLevel: f.required("logLevel"), NodeID: f.str("nodeId")}
	return req, f.err
}

// decodeDataSend reads /data/send: the payload goes to the client as it was sent.
func decodeDataSend(body []byte) (rest.DataSend, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.DataSend{}, err
	}
	d := rest.DataSend{
		NodeID:      f.str("nodeId"),
		SessionID:   f.required("sessionId"),
		OperationID: f.str("operationId"),
		Payload:     f.raw("payload"),
	}
	return d, f.err
}

// decodeStreamEvent reads /stream/event/send.
func decodeStreamEvent(body []byte) (rest.StreamEventSend, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.StreamEventSend{}, err
	}
	ev := rest.StreamEventSend{StreamName: f.required("streamName"), Payload: f.raw("payload")}
	return ev, f.err
}

// decodeAppKey reads {appKey} (/app/find, /app/remove).
func decodeAppKey(body []byte) (string, error) {
	f, err := parseFields(body)
	if err != nil {
		return "", err
	}
	key := f.required("appKey")
	return key, f.err
}

// decodeApp reads a whole App (/app/add, /app/update). Members left out are empty: an update
// replaces the app, as the body is the app.
func decodeApp(body []byte) (rest.App, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.App{}, err
	}
	a := rest.App{
		Key:          f.required("appKey"),
		Name:         f.str("name"),
		URL:          f.str("url"),
		Methods:      f.strs("methods"),
		RestUsername: f.str("restUsername"),
		RestPassword: f.str("restPassword"),
	}
	f.into("defaults", &a.Defaults)
	if f.err != nil {
		return a, f.err
	}
	a.Methods, err = checkMethods(a.Methods, true)
	return a, err
}

// decodeAppMethods reads /app/method/add and /app/method/remove: either methods or all.
func decodeAppMethods(body []byte, removing bool) (rest.AppMethods, error) {
	f, err := parseFields(body)
	if err != nil {
		return rest.AppMethods{}, err
	}
	am := rest.AppMethods{AppKey: f.required("appKey"), Methods: f.strs("methods")}
	if all := f.boolean("all"); all != nil {
		am.All = *all
	}
	switch {
	case f.err != nil:
		return am, f.err
	case !am.All && len(am.Methods) == 0:
		return am, badRequest(`field "methods" is required (or "all":true)`)
	}
	// Removing a method Potok does not know is harmless (the result is what was asked for);
	// adding one is a typo the caller should hear about.
	am.Methods, err = checkMethods(am.Methods, !removing)
	return am, err
}

// checkMethods normalises hook method names to the spelling WCS posts (signal/hooks.Normalize)
// and refuses empty ones and, when known is set, ones signal/hooks does not know: an app
// enabling a method no node sends would wait for hooks that never come.
func checkMethods(methods []string, known bool) ([]string, error) {
	for i, m := range methods {
		switch {
		case m == "":
			return nil, badRequest(`field "methods": element %d is empty`, i)
		case known && !hooks.Known(m):
			return nil, badRequest(`field "methods": unknown hook method %q`, m)
		}
		methods[i] = hooks.Normalize(m)
	}
	return methods, nil
}
