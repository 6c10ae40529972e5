package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/potok-media/potok/api/rest"
)

// statusError is an error that already knows its HTTP status: what the HTTP layer itself refuses
// (a malformed body, a missing field, an empty find) before or after asking the Backend.
type statusError struct {
	code   int
	reason string
}

func (e *statusError) Error() string { return e.reason }

// badRequest is a 400 whose reason says what is wrong with the request.
func badRequest(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// notFound is a 404: WCS answers an empty find or a terminate that matched nothing with it
// (docs/protocol.md §G).
func notFound(format string, args ...any) error {
	return &statusError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the status code and reason the client gets. Backend errors wrapping
// the api/rest sentinels become 404, 409 and 400, as the Backend contract says; anything else is a
// 500 carrying the error's text, so an operator sees the cause without reading the logs.
func statusOf(err error) (int, string) {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.code, se.reason
	case errors.Is(err, rest.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, rest.ErrConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, rest.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, rest.ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusInternalServerError, "the cluster did not answer in time: " + err.Error()
	default:
		return http.StatusInternalServerError, err.Error()
	}
}

// errorBody is every error answer of the REST API: {"status":<code>,"reason":"<text>"}. It is
// always encoded by encoding/json, never assembled from strings, so a reason that quotes the
// request (a path, a field value) cannot change the document's shape.
type errorBody struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

// writeError answers code with reason as an error body.
func writeError(w http.ResponseWriter, code int, reason string) {
	writeJSON(w, code, errorBody{Status: code, Reason: reason})
}

// writeJSON answers code with v encoded as JSON. A value that cannot be encoded (a NaN in a
// statistic, say) becomes a 500 rather than a truncated 200.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Status: code, Reason: "encode the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
