package hooks

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
)

func TestInvokePostsTheBodyWithWCSHeaders(t *testing.T) {
	b := startBackend(t, nil)
	c, reg := newClient(t, Options{Timeout: 5 * time.Second})
	body := streamBody()
	res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), PublishStream, body, nil)
	if res.Failed() || !res.Called || res.Status != http.StatusOK || res.Info != "OK" {
		t.Fatalf("result %+v, want a 200 call", res)
	}
	reqs := b.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.path != "/apps/Test/publishStream" {
		t.Errorf("path %q, want /apps/Test/publishStream", r.path)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json;charset=UTF-8", "Accept": "application/json", "Authorization": "",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("header %s: %q, want %q", h, got, want)
		}
	}
	got := r.fields(t)
	want := map[string]any{"nodeId": "node1@127.0.0.1", "sessionId": "sess-1", "appKey": "testApp",
		"mediaSessionId": "m1", "name": "s1", "published": true, "status": "PENDING", "sdp": "v=0\r\n", "record": false}
	if len(got) != len(want) {
		t.Errorf("body %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s: %v, want %v", k, got[k], v)
		}
	}
	if _, ok := body["nodeId"]; ok {
		t.Error("Invoke changed the caller's body")
	}
	if string(res.Body["name"]) != `"s1"` || string(res.Body["nodeId"]) != `"node1@127.0.0.1"` {
		t.Errorf("result body %v is not the echo", res.Body)
	}
	if n := requestsTotal(t, reg, PublishStream, OutcomeOK); n != 1 {
		t.Errorf("%s{publishStream,ok} = %v, want 1", NameRequests, n)
	}
}

func TestInvokeSignsTheBodyInsteadOfBasicAuth(t *testing.T) {
	const key = "s3cret"
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mac := hmac.New(md5.New, []byte(key))
		mac.Write(body)
		if r.Header.Get("Authorization") != "WCS "+hex.EncodeToString(mac.Sum(nil)) {
			w.WriteHeader(http.StatusForbidden) // what a WCS backend checking the hash answers
			return
		}
		_, _ = w.Write(body)
	})
	app := b.app()
	app.RestUsername, app.RestPassword = "user", "pass"
	c, _ := newClient(t, Options{SecretKey: key})
	if res := c.Invoke(ctxTimeout(t, 10*time.Second), app, Connect, map[string]any{"sessionId": "x"}, nil); res.Failed() {
		t.Fatalf("signed hook refused: %+v", res)
	}
	bad, _ := newClient(t, Options{SecretKey: "other"})
	if res := bad.Invoke(ctxTimeout(t, 10*time.Second), app, Connect, map[string]any{"sessionId": "x"}, nil); res.Status != http.StatusForbidden {
		t.Fatalf("hook signed with another key: %+v, want the backend's 403", res)
	}
}

func TestInvokeSendsTheAppsBasicCredentials(t *testing.T) {
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pa:ss" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	})
	c, _ := newClient(t, Options{})
	app := b.app()
	if res := c.Invoke(ctxTimeout(t, 10*time.Second), app, Connect, nil, nil); res.Status != http.StatusUnauthorized || res.Info != "Unauthorized" {
		t.Fatalf("without credentials: %+v, want 401 Unauthorized", res)
	}
	app.RestUsername, app.RestPassword = "user", "pa:ss"
	if res := c.Invoke(ctxTimeout(t, 10*time.Second), app, Connect, nil, nil); res.Failed() {
		t.Fatalf("with credentials: %+v", res)
	}
}

func TestInvokeInfoOfRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		info   string
	}{
		{"reason of a WCS refusal", 403, `{"status":403,"reason":"Wrong credentials"}`, "Wrong credentials"},
		{"no body", 403, "", "Forbidden"},
		{"garbage", 500, "<html>oops", "Internal Server Error"},
		{"a third member", 403, `{"status":403,"reason":"Wrong credentials","x":1}`, "Forbidden"},
		{"blank reason", 403, `{"status":403,"reason":" "}`, "Forbidden"},
		{"reason not a string", 403, `{"status":403,"reason":5}`, "Forbidden"},
		{"unknown status", 599, "", "HTTP status 599"},
		{"a redirect is not followed", 302, "", "Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if tc.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c, reg := newClient(t, Options{Retries: 3})
			res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), PlayStream, streamBody(), nil)
			if !res.Failed() || res.Status != tc.status || res.Info != tc.info || !errors.Is(res.Err, ErrStatus) {
				t.Fatalf("result %+v, want a failure %d %q", res, tc.status, tc.info)
			}
			if n := len(b.requests()); n != 1 {
				t.Errorf("backend got %d requests, want 1: an answer is never retried", n)
			}
			if n := requestsTotal(t, reg, PlayStream, OutcomeRefused); n != 1 {
				t.Errorf("refused counter %v, want 1", n)
			}
		})
	}
}

func TestInvokeToleratesAnyBodyOf200(t *testing.T) {
	for _, body := range []string{"", "not json", "[1,2]", "null", `"text"`} {
		b := startBackend(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { _, _ = w.Write([]byte(body)) })
		c, _ := newClient(t, Options{})
		res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), Connect, map[string]any{"sessionId": "x"}, nil)
		if res.Failed() || res.Body != nil || Overrides(res, Connect, nil) != nil {
			t.Errorf("200 with body %q: %+v, want success without overrides", body, res)
		}
	}
}

func TestInvokeRefusesAnAnswerTooLarge(t *testing.T) {
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		_, _ = w.Write([]byte(`{"x":"` + strings.Repeat("a", MaxResponseBytes) + `"}`))
	})
	c, _ := newClient(t, Options{})
	res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), Connect, nil, nil)
	if !res.Failed() || !errors.Is(res.Err, ErrResponseTooLarge) || res.Info != InfoBadResponse || res.Body != nil {
		t.Fatalf("result %+v, want %v", res, ErrResponseTooLarge)
	}
}

func TestInvokeTimesOutWithoutRetrying(t *testing.T) {
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
	c, reg := newClient(t, Options{Timeout: 200 * time.Millisecond, Retries: 3})
	res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), Connect, nil, nil)
	if !res.Failed() || res.Info != InfoTimeout || !errors.Is(res.Err, ErrTimeout) {
		t.Fatalf("result %+v, want a timeout", res)
	}
	if res.Took < 200*time.Millisecond || res.Took > 2*time.Second {
		t.Errorf("took %s, want about the 200ms timeout", res.Took)
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("backend got %d requests, want 1: a timeout is not retried", n)
	}
	if n := requestsTotal(t, reg, Connect, OutcomeTimeout); n != 1 {
		t.Errorf("timeout counter %v, want 1", n)
	}
}

func TestInvokeRetriesSendFailures(t *testing.T) {
	for _, tc := range []struct {
		name            string
		refuse, retries int
		ok              bool
		attempts        int32
	}{
		{"recovers within the retries", 2, 3, true, 3},
		{"gives up after the retries", 10, 2, false, 3},
		{"no retries", 1, 0, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, nil)
			l := &flakyListener{Listener: b.Listener}
			l.refuse.Store(int32(tc.refuse))
			b.Listener = l
			b.start(t)
			c, reg := newClient(t, Options{Timeout: 5 * time.Second, Retries: tc.retries})
			res := c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), Connect, map[string]any{"sessionId": "x"}, nil)
			if res.Failed() == tc.ok {
				t.Fatalf("result %+v, want ok=%v", res, tc.ok)
			}
			if !tc.ok && (res.Info != InfoUnavailable || res.Status != 0) {
				t.Errorf("info %q status %d, want %q without a status", res.Info, res.Status, InfoUnavailable)
			}
			if got := l.accepted.Load(); got != tc.attempts {
				t.Errorf("%d connections, want %d", got, tc.attempts)
			}
			outcome := OutcomeOK
			if !tc.ok {
				outcome = OutcomeError
			}
			if n := requestsTotal(t, reg, Connect, outcome); n != 1 {
				t.Errorf("%s counter %v, want 1 (one per hook, not per attempt)", outcome, n)
			}
		})
	}
}

func TestInvokeRefusedConnectionBacksOffWithinTheContext(t *testing.T) {
	app := rest.App{Key: "k", URL: "http://" + closedPort(t), Methods: []string{Connect}}
	c, _ := newClient(t, Options{Retries: 2})
	res := c.Invoke(ctxTimeout(t, 10*time.Second), app, Connect, nil, nil)
	if !res.Failed() || res.Info != InfoUnavailable {
		t.Fatalf("result %+v, want %q", res, InfoUnavailable)
	}
	if res.Took < 3*retryBackoff {
		t.Errorf("took %s, want the backoffs 100ms+200ms", res.Took)
	}
	c, _ = newClient(t, Options{Retries: 10}) // 5.5 s of backoff in all
	res = c.Invoke(ctxTimeout(t, 250*time.Millisecond), app, Connect, nil, nil)
	if !res.Failed() || res.Took > 2*time.Second {
		t.Fatalf("result %+v: the retries outlived the context", res)
	}
}

func TestInvokeSkips(t *testing.T) {
	b := startBackend(t, nil)
	disabled, _ := ParseConfig(nil, json.RawMessage(`{"publishStream":{"restPolicy":"DISABLED"}}`))
	for _, tc := range []struct {
		name string
		opts Options
		app  func(rest.App) rest.App
		cfg  *Config
	}{
		{"hooks disabled", Options{Disabled: true}, nil, nil},
		{"no URL", Options{}, func(a rest.App) rest.App { a.URL = ""; return a }, nil},
		{"method not enabled", Options{}, func(a rest.App) rest.App { a.Methods = []string{PlayStream}; return a }, nil},
		{"restPolicy DISABLED", Options{}, nil, disabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, reg := newClient(t, tc.opts)
			app := b.app()
			if tc.app != nil {
				app = tc.app(app)
			}
			res := c.Invoke(ctxTimeout(t, 10*time.Second), app, PublishStream, streamBody(), tc.cfg)
			if res.Called || res.Failed() {
				t.Fatalf("result %+v, want skipped", res)
			}
			if proceed, tell := Decide(PublishStream, res, tc.cfg); !proceed || tell {
				t.Errorf("Decide of a skipped hook: %v %v, want approved", proceed, tell)
			}
			if n := requestsTotal(t, reg, PublishStream, OutcomeSkipped); n != 1 {
				t.Errorf("skipped counter %v, want 1", n)
			}
		})
	}
	if n := len(b.requests()); n != 0 {
		t.Errorf("backend got %d requests, want none", n)
	}
}

func TestInvokeAliasesAndUnknownMethods(t *testing.T) {
	b := startBackend(t, nil)
	c, reg := newClient(t, Options{})
	app := b.app()
	app.Methods = []string{"sendDtmf", "sendData", "fooBar"}
	ctx := ctxTimeout(t, 10*time.Second)
	for _, m := range []string{SendDTMF, "sendData", "fooBar"} {
		if res := c.Invoke(ctx, app, m, nil, nil); !res.Called || res.Failed() {
			t.Errorf("%s: %+v", m, res)
		}
	}
	var paths []string
	for _, r := range b.requests() {
		paths = append(paths, r.path)
	}
	if got := strings.Join(paths, " "); got != "/apps/Test/sendDTMF /apps/Test/OnDataEvent /apps/Test/fooBar" {
		t.Errorf("paths %s", got)
	}
	if n := requestsTotal(t, reg, "other", OutcomeOK); n != 1 {
		t.Errorf("an unknown method counted as other %v times, want 1", n)
	}
}

func TestInvokeEchoAppAnswersInProcess(t *testing.T) {
	c, reg := newClient(t, Options{SecretKey: "k"})
	app := rest.App{Key: rest.EchoApp, URL: rest.EchoURL, Methods: AllMethods()}
	cfg, _ := ParseConfig(nil, json.RawMessage(`{"publishStream":{"restExclude":"sdp"}}`))
	res := c.Invoke(ctxTimeout(t, time.Second), app, PublishStream, streamBody(), cfg)
	if !res.Called || res.Failed() || res.Status != http.StatusOK {
		t.Fatalf("result %+v, want the echo", res)
	}
	if string(res.Body["name"]) != `"s1"` || string(res.Body["nodeId"]) != `"node1@127.0.0.1"` || res.Body["sdp"] != nil {
		t.Errorf("echo %v: want the hook body without sdp", res.Body)
	}
	if n := requestsTotal(t, reg, PublishStream, OutcomeEcho); n != 1 {
		t.Errorf("echo counter %v, want 1", n)
	}
}

func TestInvokeLeavesRestExcludedFieldsOut(t *testing.T) {
	b := startBackend(t, nil)
	c, _ := newClient(t, Options{})
	cfg, err := ParseConfig(nil, json.RawMessage(`{"publishStream":{"restExclude":"sdp, custom"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body := streamBody()
	body["custom"] = map[string]any{"a": 1}
	c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), PublishStream, body, cfg)
	c.Invoke(ctxTimeout(t, 10*time.Second), b.app(), PlayStream, body, cfg)
	reqs := b.requests()
	pub, play := reqs[0].fields(t), reqs[1].fields(t)
	if _, ok := pub["sdp"]; ok || pub["custom"] != nil || pub["name"] != "s1" {
		t.Errorf("publishStream body %v: want no sdp, no custom", pub)
	}
	if _, ok := play["sdp"]; !ok {
		t.Errorf("playStream body %v: the exclusion of publishStream applied to it", play)
	}
	if _, ok := body["sdp"]; !ok {
		t.Error("Invoke removed sdp from the caller's body")
	}
}

func TestInvokeBodyThatCannotBeEncoded(t *testing.T) {
	b := startBackend(t, nil)
	c, _ := newClient(t, Options{})
	res := c.Invoke(ctxTimeout(t, time.Second), b.app(), Connect, map[string]any{"bad": make(chan int)}, nil)
	if !res.Failed() || res.Info != InfoBadRequest || !errors.Is(res.Err, ErrEncode) {
		t.Fatalf("result %+v, want %v", res, ErrEncode)
	}
	if proceed, _ := Decide(Connect, res, nil); proceed {
		t.Error("a connect whose hook failed proceeds")
	}
}

// TestInvokeDoesNotSerializeSessions holds 200 hooks in the backend at once: none is answered
// before all 200 have arrived, which only works if the Client does not queue them per host.
func TestInvokeDoesNotSerializeSessions(t *testing.T) {
	const n = 200
	var inflight atomic.Int32
	all := make(chan struct{})
	b := startBackend(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if inflight.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			_, _ = w.Write(body)
		case <-r.Context().Done():
		}
	})
	c, _ := newClient(t, Options{Timeout: 10 * time.Second})
	var wg sync.WaitGroup
	var failed atomic.Int32
	ctx := ctxTimeout(t, 20*time.Second)
	for i := range n {
		wg.Go(func() {
			if res := c.Invoke(ctx, b.app(), Connect, map[string]any{"sessionId": i}, nil); res.Failed() {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d concurrent hooks failed", f, n)
	}
}
