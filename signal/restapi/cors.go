package restapi

import "net/http"

// CORS values of every answer (docs/protocol.md §G). WCS allows only POST by default, but the
// WebSDK's REST helper sends GET for parameter-less calls (§H.12), so GET is allowed too;
// authorization is allowed so that a browser page can call the API in production mode.
const (
	corsAllowHeaders = "content-type,x-requested-with,authorization"
	corsAllowMethods = "GET, POST, OPTIONS"
)

// setCORS adds the CORS headers to every answer, errors included: a browser hides an error's
// status and body from the page unless the answer carries Access-Control-Allow-Origin.
func setCORS(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
}

// allowedMethod reports whether the REST API answers method: GET and POST for every endpoint,
// OPTIONS for preflights.
func allowedMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodPost || method == http.MethodOptions
}
