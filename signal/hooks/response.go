package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Info texts of interaction errors the backend did not word itself. They reach the client as
// the info of a fail or FAILED, so they are fixed strings a page can compare.
const (
	InfoTimeout     = "Backend timeout"              // no answer within the hook timeout
	InfoUnavailable = "Backend unavailable"          // no answer at all: refused, reset, DNS, after the retries
	InfoBadResponse = "Backend response is invalid"  // a 200 too large to read or cut short
	InfoBadRequest  = "Backend request is not valid" // a body that cannot be encoded, a malformed app URL
)

// MaxResponseBytes bounds the body read from a backend: an answer is an echo of a hook body,
// which the WS frame limit keeps well under this.
const MaxResponseBytes = 1 << 20

// Result is the outcome of one hook.
type Result struct {
	// Called is false when the hook was skipped (hooks disabled, no URL, method not enabled,
	// restPolicy DISABLE): the operation proceeds as approved, with no overrides.
	Called bool
	// Status is the HTTP status of the answer (200 for the echo backend), 0 without one.
	Status int
	// Info is the text for the client: "OK" on success, "" when skipped; on an interaction error
	// the backend's reason, the HTTP reason phrase or one of the Info constants, never empty.
	Info string
	// Body is the answer's members when it was a JSON object; nil otherwise (no overrides).
	Body map[string]json.RawMessage
	// Err is nil on success and describes the interaction error otherwise.
	Err error
	// Took is the time from the call to the result, retries included.
	Took time.Duration
}

// Failed reports an interaction error: an answer other than 200, a timeout, a transport
// failure, an answer that could not be read.
func (r Result) Failed() bool { return r.Err != nil }

// decodeResponse reads a backend's answer. On 200 the body, if it is a JSON object, gives Body;
// an empty or non-JSON body is no override (WCS's documents leave it open, Potok tolerates it).
// On any other status Info is the reason of a body that is exactly {"status":<n>,"reason":"…"}
// (how a WCS backend words a refusal), else the HTTP reason phrase.
func decodeResponse(status int, body []byte) (info string, fields map[string]json.RawMessage) {
	if err := json.Unmarshal(body, &fields); err != nil || !isObject(body) {
		fields = nil
	}
	if status == http.StatusOK {
		return http.StatusText(status), fields
	}
	if reason, ok := refusalReason(fields); ok {
		return reason, fields
	}
	if t := http.StatusText(status); t != "" {
		return t, fields
	}
	return fmt.Sprintf("HTTP status %d", status), fields
}

// refusalReason is the reason of a {"status":<number>,"reason":"<text>"} body with exactly those
// two members and a reason that is not blank.
func refusalReason(fields map[string]json.RawMessage) (string, bool) {
	if len(fields) != 2 {
		return "", false
	}
	var n json.Number
	if err := json.Unmarshal(fields["status"], &n); err != nil || n == "" {
		return "", false
	}
	var reason string
	if err := json.Unmarshal(fields["reason"], &reason); err != nil || len(bytes.TrimSpace([]byte(reason))) == 0 {
		return "", false
	}
	return reason, true
}
