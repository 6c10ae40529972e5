package hooks

import (
	"encoding/json"
	"net/http"
)

// Overrides are the members of the backend's answer to method that replace the request's
// fields (Config.Overwritable): for connect every member but nodeId, sessionId, appKey and
// restClientConfig; for another method the restOverwrite members under restPolicy OVERWRITE
// (e.g. "name" of publishStream). nil when the hook failed, was skipped or answered no object.
func Overrides(res Result, method string, cfg *Config) map[string]json.RawMessage {
	if res.Failed() || len(res.Body) == 0 {
		return nil
	}
	var out map[string]json.RawMessage
	for k, v := range res.Body {
		if !cfg.Overwritable(method, k) {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = v
	}
	return out
}

// Decide applies WCS's error matrix to a hook's result: proceed is whether the operation goes on,
// tellClient whether the client learns of the error. Without an interaction error (or when the
// hook was skipped) the answer is always (true, false). On an error:
//
//   - connect: (false, true) whatever restOnError says: the connection is refused with a fail
//     ConnectionStatusEvent (docs/protocol.md §E.1b).
//   - a direct invocation: LOG (true, false); FAIL (false, true): the operation is aborted and the
//     client gets its error in the method's own event (a stream's fail StreamStatusEvent,
//     §E.2b; DataStatusEvent FAILED). unPublishStream, stopStream and hangup end something
//     that ends anyway, so they proceed silently even under FAIL.
//   - an event: LOG (true, false); FAIL (true, true): the client gets a fail ErrorEvent (a WARN).
//     Except StreamKeepAliveEvent answered 403 under FAIL: (false, true), the stream is
//     terminated.
//   - an incoming invocation: LOG (true, false); FAIL (false, true): the SIP request is rejected
//     and the client gets a WARN.
func Decide(method string, res Result, cfg *Config) (proceed, tellClient bool) {
	if !res.Failed() {
		return true, false
	}
	method = Normalize(method)
	kind := Kind(method)
	if kind == KindConnect {
		return false, true
	}
	if !cfg.OnErrorFail(method) {
		return true, false
	}
	switch kind {
	case KindDirect:
		if catalogue[method].unvetoable {
			return true, false
		}
		return false, true
	case KindIncoming:
		return false, true
	default:
		if method == StreamKeepAliveEvent && res.Status == http.StatusForbidden {
			return false, true
		}
		return true, true
	}
}
