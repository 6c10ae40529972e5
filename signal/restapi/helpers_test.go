package restapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// answer is what a request got.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// newMux serves the REST API with opts on a fresh mux, metrics on their own registry.
func newMux(t *testing.T, opts Options) *http.ServeMux {
	t.Helper()
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	mux := http.NewServeMux()
	if err := Register(mux, opts); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return mux
}

// do sends one request to h; body "" sends none.
func do(t *testing.T, h http.Handler, method, target, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	return send(h, req)
}

func send(h http.Handler, req *http.Request) answer {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.Bytes()}
}

// errorOf decodes an error body and checks it is exactly {"status","reason"} with status = code.
func errorOf(t *testing.T, a answer) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("error body %q is not a JSON object: %v", a.body, err)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || len(m) != 2 {
		t.Fatalf("error body %s: want exactly status and reason (%v)", a.body, err)
	}
	if e.Status != a.code {
		t.Errorf("error body status %d, HTTP status %d", e.Status, a.code)
	}
	return e.Reason
}
