package hooks

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestConnectAnswerOverridesAndConfiguresTheSession is a backend's connect answer: the echo with
// a new custom, SIP credentials, an attempt to change the session's id and a restClientConfig
// that lets it rename published streams; then publishStream renamed by the backend.
func TestConnectAnswerOverridesAndConfiguresTheSession(t *testing.T) {
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		switch r.URL.Path {
		case "/apps/Test/connect":
			m["custom"] = map[string]any{"role": "admin"}
			m["sipLogin"] = "1000"
			m["sessionId"], m["nodeId"], m["appKey"] = "hijack", "other", "otherApp"
			m["restClientConfig"] = map[string]any{
				"publishStream": map[string]any{"restPolicy": "OVERWRITE", "restOverwrite": "name", "restOnError": "FAIL"},
			}
		case "/apps/Test/publishStream":
			m["name"], m["record"] = "renamed", true
		}
		_ = json.NewEncoder(w).Encode(m)
	})
	c, _ := newClient(t, Options{})
	ctx := ctxTimeout(t, 10*time.Second)
	app := b.app()
	conn := map[string]any{"sessionId": "sess-1", "appKey": "testApp", "mediaProviders": []string{"WebRTC"}, "custom": map[string]any{"role": "user"}}
	res := c.Invoke(ctx, app, Connect, conn, nil)
	ov := Overrides(res, Connect, nil)
	if keys := slices.Sorted(maps.Keys(ov)); !slices.Equal(keys, []string{"custom", "mediaProviders", "sipLogin"}) {
		t.Fatalf("connect overrides %v, want custom, mediaProviders, sipLogin", keys)
	}
	if string(ov["custom"]) != `{"role":"admin"}` || string(ov["sipLogin"]) != `"1000"` {
		t.Errorf("connect overrides %s %s", ov["custom"], ov["sipLogin"])
	}
	cfg, err := ParseConfig(app.Defaults, res.Body["restClientConfig"])
	if err != nil {
		t.Fatal(err)
	}
	res = c.Invoke(ctx, app, PublishStream, streamBody(), cfg)
	if ov := Overrides(res, PublishStream, cfg); len(ov) != 1 || string(ov["name"]) != `"renamed"` {
		t.Errorf("publishStream overrides %v, want only name", ov)
	}
	if ov := Overrides(res, PublishStream, nil); ov != nil {
		t.Errorf("publishStream under NOTIFY overrides %v", ov)
	}
}

func TestOverridesOfAFailureAreNone(t *testing.T) {
	res := Result{Called: true, Status: 403, Info: "Forbidden", Err: ErrStatus, Body: map[string]json.RawMessage{"name": []byte(`"x"`)}}
	if ov := Overrides(res, Connect, nil); ov != nil {
		t.Errorf("overrides of a refusal: %v", ov)
	}
}

func TestDecideFollowsTheErrorMatrix(t *testing.T) {
	fail, _ := ParseConfig(nil, json.RawMessage(`{"connect":{"restOnError":"LOG"},"publishStream":{"restOnError":"FAIL"},
		"stopStream":{"restOnError":"FAIL"},"StreamStatusEvent":{"restOnError":"FAIL"},"StreamKeepAliveEvent":{"restOnError":"FAIL"},
		"OnCallEvent":{"restOnError":"FAIL"},"hangup":{"restOnError":"FAIL"}}`))
	refused := Result{Called: true, Status: 403, Info: "Forbidden", Err: ErrStatus}
	timeout := Result{Called: true, Info: InfoTimeout, Err: ErrTimeout}
	ok := Result{Called: true, Status: 200, Info: "OK"}
	for _, tc := range []struct {
		name            string
		method          string
		res             Result
		cfg             *Config
		proceed, tellIt bool
	}{
		{"success", PublishStream, ok, fail, true, false},
		{"connect refused", Connect, refused, nil, false, true},
		{"connect refused under LOG", Connect, refused, fail, false, true},
		{"connect unreachable", Connect, timeout, nil, false, true},
		{"direct under LOG", PublishStream, refused, nil, true, false},
		{"direct under FAIL", PublishStream, refused, fail, false, true},
		{"direct timeout under FAIL", PublishStream, timeout, fail, false, true},
		{"stopStream cannot be vetoed", StopStream, refused, fail, true, false},
		{"hangup cannot be vetoed", Hangup, refused, fail, true, false},
		{"event under LOG", StreamStatusEvent, refused, nil, true, false},
		{"event under FAIL", StreamStatusEvent, refused, fail, true, true},
		{"keep-alive 403 under LOG", StreamKeepAliveEvent, refused, nil, true, false},
		{"keep-alive 403 under FAIL ends the stream", StreamKeepAliveEvent, refused, fail, false, true},
		{"keep-alive timeout under FAIL", StreamKeepAliveEvent, timeout, fail, true, true},
		{"incoming under LOG", OnCallEvent, refused, nil, true, false},
		{"incoming under FAIL", OnCallEvent, refused, fail, false, true},
	} {
		proceed, tell := Decide(tc.method, tc.res, tc.cfg)
		if proceed != tc.proceed || tell != tc.tellIt {
			t.Errorf("%s: Decide = %v, %v; want %v, %v", tc.name, proceed, tell, tc.proceed, tc.tellIt)
		}
	}
}
