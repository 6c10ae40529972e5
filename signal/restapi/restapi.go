// Package restapi serves the WCS management REST API namespace, /rest-api/ (docs/protocol.md §G), on
// the signal tier's HTTP port.
package restapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Prefix is where the REST API lives on the HTTP port, as on WCS.
const Prefix = "/rest-api/"

// Register adds the REST API routes to mux. No method is implemented yet: each answers 501 with a
// JSON reason naming it, so a backend sees a clear error rather than a 404 (README "Not implemented
// yet").
func Register(mux *http.ServeMux) {
	mux.HandleFunc(Prefix, notImplemented)
}

func notImplemented(w http.ResponseWriter, r *http.Request) {
	method := "/" + strings.TrimPrefix(r.URL.Path, Prefix)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotImplemented)
	_ = json.NewEncoder(w).Encode(struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}{http.StatusNotImplemented, "Not implemented: the WCS REST API " + method + " is not implemented yet"})
}
