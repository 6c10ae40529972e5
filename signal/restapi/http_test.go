package restapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/rest"
)

// Bad requests are 400 with a reason naming the problem, never 500, and never reach the Backend.
func TestBadRequestsAre400(t *testing.T) {
	cases := []struct{ name, path, body, reason string }{
		{"malformed JSON", "/stream/find", `{"name":`, "malformed JSON"},
		{"not an object", "/stream/find", `["name"]`, "malformed JSON"},
		{"trailing garbage", "/stream/find", `{} {}`, "malformed JSON"},
		{"boolean as other string", "/stream/find", `{"published":"yes"}`, `field "published": want a boolean (or "true"/"false"), got string "yes"`},
		{"boolean as number", "/stream/find", `{"published":1}`, `field "published"`},
		{"string as number", "/stream/find", `{"name":12}`, `field "name": want a string, got a number`},
		{"list of numbers", "/stream/terminate", `{"mediaSessionIds":[1,2]}`, `field "mediaSessionIds"`},
		{"filter as object", "/connection/find", `{"appKey":{}}`, `field "appKey"`},
		{"missing sessionId", "/connection/terminate", `{}`, `field "sessionId" is required`},
		{"empty sessionId", "/data/send", `{"sessionId":""}`, `field "sessionId" is required`},
		{"missing streamName", "/stream/event/send", `{"payload":{}}`, `field "streamName" is required`},
		{"log level as boolean", "/logger/enable_client_log", `{"sessionId":"s","logLevel":true}`, `field "logLevel"`},
		{"missing callId", "/call/terminate", `{}`, `field "callId" is required`},
		{"missing dtmf", "/call/send_dtmf", `{"callId":"c1"}`, `field "dtmf" is required`},
		{"dtmf as object", "/call/send_dtmf", `{"callId":"c1","dtmf":{}}`, `field "dtmf"`},
		{"missing node log level", "/logger/set_node_log_level", `{"nodeId":"n1"}`, `field "logLevel" is required`},
		{"missing appKey", "/app/add", `{"url":"http://x/"}`, `field "appKey" is required`},
		{"methods as object", "/app/add", `{"appKey":"a","methods":{}}`, `field "methods"`},
		{"defaults of the wrong shape", "/app/update", `{"appKey":"a","defaults":{"connect":{"restOnError":5}}}`, `field "defaults"`},
		{"unknown hook method", "/app/method/add", `{"appKey":"a","methods":["publishStreem"]}`, `unknown hook method "publishStreem"`},
		{"empty method", "/app/add", `{"appKey":"a","methods":[""]}`, "element 0 is empty"},
		{"neither methods nor all", "/app/method/remove", `{"appKey":"a"}`, `"methods" is required`},
		{"all as other string", "/app/method/add", `{"appKey":"a","all":"yes"}`, `field "all"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend()
			a := do(t, newMux(t, Options{Backend: b}), "POST", Prefix+c.path[1:], c.body)
			if a.code != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", a.code, a.body)
			}
			if reason := errorOf(t, a); !strings.Contains(reason, c.reason) {
				t.Errorf("reason %q lacks %q", reason, c.reason)
			}
			if calls := b.recorded(); len(calls) != 0 {
				t.Errorf("a bad request reached the backend: %v", calls)
			}
		})
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	b := newFakeBackend()
	mux := newMux(t, Options{Backend: b, MaxBodyBytes: 64})
	a := do(t, mux, "POST", "/rest-api/stream/find", `{"name":"`+strings.Repeat("x", 100)+`"}`)
	if a.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d %s, want 413", a.code, a.body)
	}
	if reason := errorOf(t, a); !strings.Contains(reason, "limit 64 bytes") {
		t.Errorf("reason %q", reason)
	}
	if a := do(t, mux, "POST", "/rest-api/stream/find", `{"name":"stream1"}`); a.code != 200 {
		t.Errorf("a body under the limit: got %d %s", a.code, a.body)
	}
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	mux := newMux(t, Options{Backend: newFakeBackend()})
	big := `{"name":"stream1","pad":"` + strings.Repeat("x", DefaultMaxBodyBytes-40) + `"}`
	if a := do(t, mux, "POST", "/rest-api/stream/find", big); a.code != 200 {
		t.Errorf("just under 1 MiB: got %d", a.code)
	}
	big = `{"pad":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	if a := do(t, mux, "POST", "/rest-api/stream/find", big); a.code != http.StatusRequestEntityTooLarge {
		t.Errorf("over 1 MiB: got %d", a.code)
	}
}

// A path quoting JSON syntax comes back inside the reason, as a string: the error body keeps
// exactly its two members.
func TestErrorBodiesAreJSONWhateverThePath(t *testing.T) {
	mux := newMux(t, Options{Backend: newFakeBackend()})
	for _, target := range []string{
		`/rest-api/%22%7D,%22injected%22:true`,
		`/rest-api/call/%22%7D,%22injected%22:true`,
		`/rest-api/x%5C%22%0A%3C%2Fscript%3E`,
		`/rest-api/` + strings.Repeat("%22", 500),
	} {
		a := do(t, mux, "POST", target, "")
		reason := errorOf(t, a)
		if strings.Contains(string(a.body), `"injected":true`) {
			t.Errorf("%s: body %s", target, a.body)
		}
		if a.code != http.StatusNotFound && a.code != http.StatusNotImplemented {
			t.Errorf("%s: got %d", target, a.code)
		}
		if len(reason) > maxQuotedPath+100 {
			t.Errorf("%s: reason of %d bytes", target, len(reason))
		}
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	mux := newMux(t, Options{Backend: newFakeBackend()})
	for _, path := range []string{"/rest-api/", "/rest-api/stream", "/rest-api/stream/find_all/", "/rest-api/nothing/here"} {
		a := do(t, mux, "GET", path, "")
		if a.code != http.StatusNotFound {
			t.Errorf("%s: got %d %s, want 404", path, a.code, a.body)
			continue
		}
		if reason := errorOf(t, a); !strings.Contains(reason, "no such REST API method") {
			t.Errorf("%s: reason %q", path, reason)
		}
	}
}

func TestMissingFeaturesAre501NamingThem(t *testing.T) {
	mux := newMux(t, Options{Backend: newFakeBackend()})
	cases := map[string]string{
		"/rest-api/call/startup":             "This call method is not implemented yet (/call/startup)",
		"/rest-api/call/some/future/method":  "This call method is not implemented yet (/call/some/future/method)",
		"/rest-api/push/startup":             "RTMP republishing is not implemented yet (/push/startup)",
		"/rest-api/pull/rtmp/pull":           "This pull method is not implemented yet (/pull/rtmp/pull)",
		"/rest-api/pull/push":                "This pull method is not implemented yet (/pull/push)",
		"/rest-api/rtsp/find_all":            "RTSP capture is not implemented yet (/rtsp/find_all)",
		"/rest-api/mixer/startup":            "Mixers are not implemented yet (/mixer/startup)",
		"/rest-api/transcoder/startup":       "Transcoding is not implemented yet (/transcoder/startup)",
		"/rest-api/vod/startup":              "VOD is not implemented yet (/vod/startup)",
		"/rest-api/cdn/other_method":         "This CDN method is not implemented yet (/cdn/other_method)",
		"/rest-api/api/create-session":       "REST API sessions (/api) are not implemented yet (/api/create-session)",
		"/rest-api/stream/snapshot":          "Stream snapshots are not implemented yet (/stream/snapshot)",
		"/rest-api/stream/startRecording":    "Stream recording is not implemented yet (/stream/startRecording)",
		"/rest-api/stream/stopRecording":     "Stream recording is not implemented yet (/stream/stopRecording)",
		"/rest-api/call/inject_stream/start": "This call method is not implemented yet (/call/inject_stream/start)",
	}
	for path, want := range cases {
		for _, method := range []string{"GET", "POST"} {
			a := do(t, mux, method, path, "")
			if a.code != http.StatusNotImplemented {
				t.Errorf("%s %s: got %d, want 501", method, path, a.code)
				continue
			}
			if reason := errorOf(t, a); reason != want {
				t.Errorf("%s: reason %q, want %q", path, reason, want)
			}
		}
	}
}

func TestNoBackendIs503(t *testing.T) {
	mux := newMux(t, Options{})
	for _, rt := range routes {
		a := do(t, mux, "POST", Prefix+rt.path[1:], "{}")
		switch {
		case rt.static:
			if a.code != 200 {
				t.Errorf("%s: got %d without a backend, want 200", rt.path, a.code)
			}
		case rt.serve == nil:
			if a.code != http.StatusNotImplemented {
				t.Errorf("%s: got %d, want 501", rt.path, a.code)
			}
		default:
			if a.code != http.StatusServiceUnavailable || errorOf(t, a) != "REST API backend not ready" {
				t.Errorf("%s: got %d %s, want 503 backend not ready", rt.path, a.code, a.body)
			}
		}
	}
	if a := do(t, mux, "GET", "/?action=stat", ""); a.code != http.StatusServiceUnavailable {
		t.Errorf("stat page without a backend: got %d", a.code)
	}
}

func TestMethodsOtherThanGetAndPostAre405(t *testing.T) {
	b := newFakeBackend()
	mux := newMux(t, Options{Backend: b})
	for _, method := range []string{"PUT", "DELETE", "PATCH", "HEAD"} {
		a := do(t, mux, method, "/rest-api/stream/terminate", "{}")
		if a.code != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, POST, OPTIONS" {
			t.Errorf("%s: got %d Allow %q, want 405", method, a.code, a.header.Get("Allow"))
		}
		if method != "HEAD" {
			errorOf(t, a)
		}
	}
	if calls := b.recorded(); len(calls) != 0 {
		t.Errorf("backend called: %v", calls)
	}
}

func TestCORS(t *testing.T) {
	check := func(t *testing.T, a answer, origin string) {
		t.Helper()
		want := map[string]string{
			"Access-Control-Allow-Origin":  origin,
			"Access-Control-Allow-Headers": "content-type,x-requested-with,authorization",
			"Access-Control-Allow-Methods": "GET, POST, OPTIONS",
		}
		for k, v := range want {
			if got := a.header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	}
	t.Run("preflight without credentials in production mode", func(t *testing.T) {
		b := newFakeBackend()
		mux := newMux(t, Options{Backend: b, Auth: users{"admin": "admin"}})
		req := httptest.NewRequest("OPTIONS", "/rest-api/stream/find", nil)
		req.Header.Set("Origin", "http://page.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		a := send(mux, req)
		if a.code != http.StatusNoContent {
			t.Fatalf("preflight got %d %s, want 204", a.code, a.body)
		}
		check(t, a, "*")
		if len(b.recorded()) != 0 {
			t.Error("a preflight reached the backend")
		}
	})
	t.Run("on answers and errors, configured origin", func(t *testing.T) {
		mux := newMux(t, Options{Backend: newFakeBackend(), AllowOrigin: "https://admin.example"})
		for _, path := range []string{"/rest-api/stream/find_all", "/rest-api/nope", "/rest-api/call/startup", "/?action=stat"} {
			check(t, do(t, mux, "GET", path, ""), "https://admin.example")
		}
	})
}

// users is an Authenticator over a map.
type users map[string]string

func (u users) Check(user, password string) bool {
	p, ok := u[user]
	return ok && p == password
}

func TestAuth(t *testing.T) {
	b := newFakeBackend()
	mux := newMux(t, Options{Backend: b, Auth: users{"admin": "s3cret"}})
	get := func(path, user, password string) answer {
		req := httptest.NewRequest("GET", path, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		return send(mux, req)
	}
	for _, path := range []string{"/rest-api/stream/find_all", "/rest-api/call/startup", "/rest-api/nope", OpenAPIPath, "/?action=stat"} {
		for _, cred := range [][2]string{{"", ""}, {"admin", "wrong"}, {"other", "s3cret"}} {
			a := get(path, cred[0], cred[1])
			if a.code != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != `Basic realm="potok"` {
				t.Errorf("%s as %q: got %d %q, want 401 with a Basic challenge", path, cred[0], a.code, a.header.Get("WWW-Authenticate"))
				continue
			}
			errorOf(t, a)
		}
	}
	if len(b.recorded()) != 0 {
		t.Errorf("unauthenticated requests reached the backend: %v", b.recorded())
	}
	if a := get("/rest-api/stream/find_all", "admin", "s3cret"); a.code != 200 {
		t.Errorf("with credentials: got %d %s", a.code, a.body)
	}
	if a := get("/?action=stat", "admin", "s3cret"); a.code != 200 {
		t.Errorf("stat with credentials: got %d %s", a.code, a.body)
	}
	off := newMux(t, Options{Backend: newFakeBackend()})
	if a := do(t, off, "GET", "/rest-api/stream/find_all", ""); a.code != 200 || a.header.Get("WWW-Authenticate") != "" {
		t.Errorf("auth off: got %d", a.code)
	}
}

// slowBackend blocks FindStreams until its context ends.
type slowBackend struct{ *fakeBackend }

func (s slowBackend) FindStreams(ctx context.Context, _ rest.StreamFilter) ([]rest.Stream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTimeoutBoundsTheBackend(t *testing.T) {
	mux := newMux(t, Options{Backend: slowBackend{newFakeBackend()}, Timeout: 50 * time.Millisecond})
	start := time.Now()
	a := do(t, mux, "GET", "/rest-api/stream/find_all", "")
	if a.code != http.StatusInternalServerError || time.Since(start) > 5*time.Second {
		t.Fatalf("got %d after %s", a.code, time.Since(start))
	}
	if reason := errorOf(t, a); !strings.Contains(reason, "did not answer in time") {
		t.Errorf("reason %q", reason)
	}
}

func TestMetricsHaveBoundedEndpointLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := newMux(t, Options{Backend: newFakeBackend(), Registerer: reg})
	do(t, mux, "GET", "/rest-api/stream/find_all", "")
	do(t, mux, "POST", "/rest-api/stream/find", `{"published":"yes"}`)
	do(t, mux, "POST", "/rest-api/call/x1", "")
	do(t, mux, "POST", "/rest-api/call/x2", "")
	do(t, mux, "POST", "/rest-api/random1", "")
	do(t, mux, "POST", "/rest-api/random2", "")
	do(t, mux, "GET", "/?action=stat", "")
	want := map[string]float64{
		"/?action=stat 200":             1,
		"/rest-api/stream/find_all 200": 1,
		"/rest-api/stream/find 400":     1,
		"other 404":                     2,
		"/rest-api/call/* 501":          2,
	}
	got := map[string]float64{}
	durations := 0
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "potok_signal_rest_requests_total":
				got[labels["endpoint"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "potok_signal_rest_request_duration_seconds":
				durations++
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("potok_signal_rest_requests_total %v, want %v", got, want)
	}
	if durations != 5 {
		t.Errorf("%d duration series, want 5", durations)
	}
	// A second Register on the same registry shares the collectors instead of failing.
	if err := Register(http.NewServeMux(), Options{Registerer: reg}); err != nil {
		t.Errorf("second Register: %v", err)
	}
}

// The root handler answers only the statistics page; the routes ops puts on the mux win.
func TestRootServesOnlyTheStatPage(t *testing.T) {
	mux := newMux(t, Options{Backend: newFakeBackend()})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) })
	for _, target := range []string{"/", "/?action=other", "/index.html", "/favicon.ico", "/x?action=stat"} {
		if a := do(t, mux, "GET", target, ""); a.code != http.StatusNotFound {
			t.Errorf("%s: got %d, want 404", target, a.code)
		}
	}
	if a := do(t, mux, "GET", "/health", ""); a.code != 299 {
		t.Errorf("/health: got %d", a.code)
	}
}
