// Package restapi serves the WCS management REST API, /rest-api/ (docs/protocol.md §G), and the
// statistics page GET /?action=stat on the signal tier's HTTP port. It is the HTTP layer only:
// it decodes requests, asks a Backend, and encodes answers and errors the way WCS's callers (the
// WebSDK's REST helper, §H.12, and backends written for WCS) expect.
package restapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Prefix is where the REST API lives on the HTTP port, as on WCS.
const Prefix = "/rest-api/"

// OpenAPIPath is where the OpenAPI 3 document of this API is served. WCS serves its own under
// /rest-api/openapi_spec…; Potok's is a different document, so it has its own name.
const OpenAPIPath = Prefix + "openapi.json"

// Defaults of Options.
const (
	DefaultAllowOrigin  = "*"
	DefaultMaxBodyBytes = 1 << 20
)

// Options configures the REST API.
type Options struct {
	// Backend answers the requests. Nil answers every implemented endpoint 503 "REST API
	// backend not ready", so the port can be served before the node has joined its cluster.
	Backend Backend
	// Auth, when set, requires HTTP Basic credentials it accepts on every request but
	// preflights ("production mode"); nil = auth off, as WCS by default.
	Auth Authenticator
	// AllowOrigin is Access-Control-Allow-Origin; "" = DefaultAllowOrigin.
	AllowOrigin string
	// MaxBodyBytes bounds a request body; 0 = DefaultMaxBodyBytes. Larger bodies get 413.
	MaxBodyBytes int64
	// Timeout bounds each request's context, what the Backend has to answer in; 0 = none but
	// the client's.
	Timeout time.Duration
	Log     zerolog.Logger
	// Registerer gets the metrics; nil = not exported.
	Registerer prometheus.Registerer
}

// Register adds the REST API to mux: Prefix, and "/" for the statistics page (stat.go), which
// answers only GET /?action=stat and 404 otherwise; the more specific routes other packages put
// on mux (/metrics, /health, /ready) still win. It fails only when the metrics cannot be
// registered.
func Register(mux *http.ServeMux, opts Options) error {
	s, err := newServer(opts)
	if err != nil {
		return err
	}
	mux.HandleFunc(Prefix, s.serveAPI)
	mux.HandleFunc("/", s.serveRoot)
	return nil
}

// server is the REST API of one HTTP port.
type server struct {
	opts    Options
	routes  routeIndex
	metrics *metrics
}

func newServer(opts Options) (*server, error) {
	if opts.AllowOrigin == "" {
		opts.AllowOrigin = DefaultAllowOrigin
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("rest api metrics: %w", err)
	}
	return &server{opts: opts, routes: newRouteIndex(), metrics: m}, nil
}

// serveAPI answers everything under Prefix: CORS and preflight first (no auth: browsers send
// preflights without credentials), then the method, credentials, the route, the Backend.
func (s *server) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := "/" + strings.TrimPrefix(r.URL.Path, Prefix)
	rt, label := s.routes.lookup(path)
	sw := &statusWriter{ResponseWriter: w}
	start := time.Now()
	defer func() { s.done(r, label, sw.status(), time.Since(start)) }()

	if !s.preamble(sw, r) {
		return
	}
	switch {
	case rt == nil:
		writeError(sw, http.StatusNotFound, "no such REST API method: "+quotePath(path))
		return
	case rt.serve == nil:
		writeError(sw, http.StatusNotImplemented, rt.notYet+" ("+quotePath(path)+")")
		return
	case s.opts.Backend == nil && !rt.static:
		writeError(sw, http.StatusServiceUnavailable, "REST API backend not ready")
		return
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		s.fail(sw, label, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	v, err := rt.serve(ctx, s.opts.Backend, body)
	if err != nil {
		s.fail(sw, label, err)
		return
	}
	if v == nil {
		sw.WriteHeader(http.StatusOK) // WCS's void: 200 with an empty body
		return
	}
	writeJSON(sw, http.StatusOK, v)
}

// preamble does what every REST API and statistics request goes through: CORS headers, the
// preflight answer, the method check and the credentials. It reports whether to go on.
func (s *server) preamble(w http.ResponseWriter, r *http.Request) bool {
	setCORS(w.Header(), s.opts.AllowOrigin)
	switch {
	case r.Method == http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return false
	case !allowedMethod(r.Method):
		w.Header().Set("Allow", corsAllowMethods)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET or POST")
		return false
	}
	return authorized(s.opts.Auth, w, r)
}

func (s *server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	if s.opts.Timeout > 0 {
		return context.WithTimeout(r.Context(), s.opts.Timeout)
	}
	return context.WithCancel(r.Context())
}

// fail answers err; server errors are logged, as only they are the operator's to look at.
func (s *server) fail(w http.ResponseWriter, label string, err error) {
	code, reason := statusOf(err)
	if code >= http.StatusInternalServerError {
		s.opts.Log.Warn().Err(err).Str("endpoint", label).Int("code", code).Msg("rest api request failed")
	}
	writeError(w, code, reason)
}

func (s *server) done(r *http.Request, label string, code int, d time.Duration) {
	s.metrics.observe(label, code, d)
	s.opts.Log.Debug().Str("method", r.Method).Str("endpoint", label).Int("code", code).
		Dur("took", d).Msg("rest api request")
}

// maxQuotedPath bounds how much of a request's path an error reason repeats.
const maxQuotedPath = 200

// quotePath is path as an error reason repeats it: cut to a sane length (the JSON encoding of
// the reason makes any content safe; the cut keeps a scanner's long paths out of the answer).
func quotePath(path string) string {
	if len(path) > maxQuotedPath {
		return path[:maxQuotedPath] + "…"
	}
	return path
}
