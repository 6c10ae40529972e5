// Package hooks sends WCS's REST hooks to an application's backend (docs/protocol.md §F): a POST
// of a JSON body to <app URL>/<method> for connections, streams, data and calls, whose answer may
// veto the operation or overwrite some of its fields, as the session's restClientConfig says.
//
// It is a library with no knowledge of sessions: Client sends one hook and reports a Result;
// ParseConfig reads restClientConfig; Overrides and Decide turn a Result into what the session
// does; Queue delivers a session's events in order without blocking it.
package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
)

// Options configure a Client (internal/config Hooks, plus the node's id).
type Options struct {
	// Timeout bounds each attempt, from sending to the last byte of the answer (WCS
	// rest_request_timeout); 0 = none.
	Timeout time.Duration
	// Retries is how many times a request is sent again after a send failure (WCS
	// rest_client_request_retry_count); never after an answer or a timeout.
	Retries int
	// SecretKey, when set, signs every hook: Authorization: WCS <hex HMAC-MD5(body, key)>.
	SecretKey string
	// Disabled sends no hook at all: everything is approved (WCS disable_rest_requests).
	Disabled bool
	// NodeID is the nodeId of every hook body.
	NodeID string
	// HTTPClient sends the hooks; nil = the Client's own (see New).
	HTTPClient *http.Client
}

// maxIdlePerHost keeps enough idle connections to one backend that a burst of sessions (a load
// test connects hundreds at once) does not queue behind net/http's default of 2 per host.
const maxIdlePerHost = 256

// Client sends hooks for one signal node. It is safe for concurrent use.
type Client struct {
	opts Options
	http *http.Client
	m    *metrics
	log  zerolog.Logger
}

// New makes a Client and registers its metrics with reg (nil = not registered; metrics already
// registered by another Client are shared). Without Options.HTTPClient it uses its own, which
// keeps up to 256 idle connections per backend and does not follow redirects: a 3xx is an
// answer other than 200, an interaction error, and the signed body is never sent elsewhere.
func New(o Options, reg prometheus.Registerer, log zerolog.Logger) (*Client, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	o.Retries = max(o.Retries, 0)
	hc := o.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 4 * maxIdlePerHost
		tr.MaxIdleConnsPerHost = maxIdlePerHost
		hc = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{opts: o, http: hc, m: m, log: log.With().Str("component", "hooks").Logger()}, nil
}

// CloseIdleConnections closes the kept-alive connections to backends (at shutdown, so that no
// connection goroutine outlives the node).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Invoke sends method's hook for app with the fields of body and waits for the result. body
// holds the method's fields and the context parameters sessionId and appKey (appKey is app.Key
// when absent); Invoke adds nodeId and leaves body unchanged. cfg is the session's Config (nil =
// WCS's defaults, e.g. before the connect answer).
//
// The hook is skipped (Called false, approved) when hooks are disabled, app has no URL, method
// is not among app.Methods or its restPolicy is DISABLE. app.URL rest.EchoURL is answered in
// process with the request body, as WCS's EchoApp.
func (c *Client) Invoke(ctx context.Context, app rest.App, method string, body map[string]any, cfg *Config) Result {
	start := time.Now()
	method = Normalize(method)
	if c.opts.Disabled || app.URL == "" || !Enabled(app.Methods, method) || cfg.Policy(method) == PolicyDisable {
		c.m.requests.WithLabelValues(label(method), OutcomeSkipped).Inc()
		return Result{}
	}
	var res Result
	var outcome string
	payload, err := c.encode(app, method, body, cfg)
	switch {
	case err != nil:
		res, outcome = Result{Called: true, Info: InfoBadRequest, Err: err}, OutcomeError
	case app.URL == rest.EchoURL:
		res, outcome = Result{Called: true, Status: http.StatusOK, Info: http.StatusText(http.StatusOK)}, OutcomeEcho
		res.Body = map[string]json.RawMessage{}
		_ = json.Unmarshal(payload, &res.Body) // what json.Marshal made of a map is an object
	default:
		res, outcome = c.post(ctx, app, method, payload)
		c.m.duration.WithLabelValues(label(method)).Observe(time.Since(start).Seconds())
	}
	res.Took = time.Since(start)
	c.m.requests.WithLabelValues(label(method), outcome).Inc()
	c.logResult(app, method, body, res, outcome)
	return res
}

// encode is the hook body: body's fields, the context parameters, minus restExclude; always
// through encoding/json, so no field can break the JSON.
func (c *Client) encode(app rest.App, method string, body map[string]any, cfg *Config) ([]byte, error) {
	full := make(map[string]any, len(body)+2)
	maps.Copy(full, body)
	if c.opts.NodeID != "" {
		full["nodeId"] = c.opts.NodeID
	}
	if _, ok := full["appKey"]; !ok && app.Key != "" {
		full["appKey"] = app.Key
	}
	excl, _ := cfg.Excluded(method)
	for _, f := range excl {
		delete(full, f)
	}
	b, err := json.Marshal(full)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, method, err)
	}
	return b, nil
}

// sign is the signature WCS's rest_hook_send_hash puts in Authorization: the lower-case hex
// HMAC-MD5 of the exact body bytes under the secret key.
func sign(body []byte, key string) string {
	h := hmac.New(md5.New, []byte(key))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// logResult logs a hook that was sent: failures at warn, the rest at debug.
func (c *Client) logResult(app rest.App, method string, body map[string]any, res Result, outcome string) {
	ev := c.log.Debug()
	if res.Failed() {
		ev = c.log.Warn().Err(res.Err)
	}
	sid, _ := body["sessionId"].(string)
	ev.Str("method", method).Str("appKey", app.Key).Str("sessionId", sid).Str("outcome", outcome).
		Int("status", res.Status).Str("info", res.Info).Dur("took", res.Took).Msg("hook")
}
