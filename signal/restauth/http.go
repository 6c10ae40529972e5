package restauth

import "net/http"

// Realm is the realm of the WWW-Authenticate challenge.
const Realm = "Potok REST API"

// Wrap requires valid HTTP Basic credentials on every request to h (§G.1: missing or invalid →
// 401 with WWW-Authenticate: Basic). CORS preflights (OPTIONS) pass: browsers send them without
// credentials, and they do nothing.
func (u *Users) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			h.ServeHTTP(w, r)
			return
		}
		user, password, ok := r.BasicAuth()
		if !ok || !u.Check(user, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"status":401,"reason":"Unauthorized"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}
