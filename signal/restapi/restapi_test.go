package restapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestUnimplementedMethodsAnswer501WithTheirName(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/rest-api/stream/find_all", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status int    `json:"status"`
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := "Not implemented: the WCS REST API /stream/find_all is not implemented yet"
	if resp.StatusCode != http.StatusNotImplemented || body.Status != 501 || body.Reason != want {
		t.Fatalf("got %d %+v, want 501 %q", resp.StatusCode, body, want)
	}
}
