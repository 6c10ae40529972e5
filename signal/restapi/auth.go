package restapi

import "net/http"

// Authenticator checks REST API credentials in production mode (docs/protocol.md §G: HTTP Basic
// on every request when REST auth is on). The signal node implements it over its users file.
type Authenticator interface {
	Check(user, password string) bool
}

// authRealm is the realm of the Basic challenge.
const authRealm = `Basic realm="potok"`

// authorized reports whether r may be served; when it may not, the 401 has been written. With
// no Authenticator every request is authorized (WCS's default, disable_rest_auth=true).
// Preflights never get here: browsers send them without credentials.
func authorized(a Authenticator, w http.ResponseWriter, r *http.Request) bool {
	if a == nil {
		return true
	}
	user, password, ok := r.BasicAuth()
	if ok && a.Check(user, password) {
		return true
	}
	w.Header().Set("WWW-Authenticate", authRealm)
	reason := "authentication required: send HTTP Basic credentials"
	if ok {
		reason = "invalid credentials"
	}
	writeError(w, http.StatusUnauthorized, reason)
	return false
}
