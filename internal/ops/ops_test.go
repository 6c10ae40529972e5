package ops

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	if path != "/metrics" {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body.String())
		}
	}
	return rec.Code, body
}

func TestReadyFollowsTheChecks(t *testing.T) {
	var mediadErr error
	mux := NewMux(prometheus.NewRegistry(),
		Check{Name: "mediad", Ready: func() error { return mediadErr }},
		Check{Name: "signal", Ready: func() error { return nil }})
	if code, _ := get(t, mux, "/health"); code != http.StatusOK {
		t.Fatalf("/health %d", code)
	}
	if code, body := get(t, mux, "/ready"); code != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("/ready %d %v", code, body)
	}
	mediadErr = errors.New("control plane unreachable")
	code, body := get(t, mux, "/ready")
	reasons, _ := body["reasons"].(map[string]any)
	if code != http.StatusServiceUnavailable || reasons["mediad"] != "control plane unreachable" || len(reasons) != 1 {
		t.Fatalf("/ready %d %v", code, body)
	}
	if code, _ := get(t, mux, "/health"); code != http.StatusOK {
		t.Fatalf("/health %d while not ready: liveness must not follow readiness", code)
	}
	if code, _ := get(t, mux, "/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics %d", code)
	}
}
