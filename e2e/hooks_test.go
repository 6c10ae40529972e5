package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/testkit/backend"
	"github.com/potok-media/potok/testkit/cluster"
)

// The official WebSDK in a session of an application whose backend gets REST hooks
// (docs/protocol.md §F): what the backend is sent, in which order, and what the SDK makes of the
// backend's refusals. The backend is testkit/backend, a real HTTP server in the test process.

// hookMethods are the hooks of a streaming application: every method the page's flow touches.
var hookMethods = []string{hooks.Connect, hooks.ConnectionStatusEvent, hooks.PublishStream,
	hooks.UnPublishStream, hooks.PlayStream, hooks.StopStream, hooks.StreamStatusEvent,
	hooks.OnDataEvent, hooks.DataStatusEvent}

// hooksResult is window.__result of web/hooks.html.
type hooksResult struct {
	OK          bool             `json:"ok"`
	Error       string           `json:"error"`
	Name        string           `json:"name"`
	Origin      string           `json:"origin"`
	SessionID   string           `json:"sessionId"`
	PublisherID string           `json:"publisherId"`
	PlayerID    string           `json:"playerId"`
	Timeline    []pageEvent      `json:"timeline"`
	Warns       []map[string]any `json:"warns"`
	DataPayload json.RawMessage  `json:"dataPayload"`
	DataStatus  map[string]any   `json:"dataStatus"`
}

// event is the first time who reached status.
func (r hooksResult) event(who, status string) (pageEvent, bool) {
	for _, e := range r.Timeline {
		if e.Who == who && e.Status == status {
			return e, true
		}
	}
	return pageEvent{}, false
}

// requireCluster skips a test that needs its own in-process cluster (a backend, its apps) under
// POTOK_E2E_WSURL.
func requireCluster(t *testing.T) {
	t.Helper()
	if os.Getenv(envWSURL) != "" {
		t.Skipf("%s is set: this test needs its own cluster with a hook backend", envWSURL)
	}
}

// launchFirst is launch for a test with a hook backend: call it before the backend and the
// cluster start. The hooks client keeps its keep-alive connections to the backend until the
// cluster closes, so the browser's own goroutine check must run after that (cleanups run last-in
// first-out), counting from before the cluster existed.
func launchFirst(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	b, _ := launch(t, timeout)
	return b
}

// runHooksPage drives web/hooks.html in mode against ws with appKey and returns what the page saw.
func runHooksPage(t *testing.T, b *Browser, base, ws, appKey, mode string) hooksResult {
	t.Helper()
	name := "e2e-" + randomHex(4)
	q := url.Values{"ws": {ws}, "appKey": {appKey}, "token": {"abc"}, "name": {name}, "mode": {mode}}
	start := time.Now()
	if err := b.Navigate(b.Context(), base+"/hooks.html?"+pageQuery(q)); err != nil {
		t.Fatal(err)
	}
	var res hooksResult
	waitResult(t, b, b.Context(), 60*time.Second, &res)
	t.Logf("%s (%s, stream %s): page done in %v, sessionId %s", appKey, mode, name,
		time.Since(start).Round(time.Millisecond), res.SessionID)
	for _, e := range res.Timeline {
		t.Logf("  %6d ms  %-9s %s %s", e.Ms, e.Who, e.Status, e.Info)
	}
	if !res.OK {
		t.Errorf("page failed: %s", res.Error)
	}
	return res
}

// waitDisconnected waits until b has heard ConnectionStatusEvent DISCONNECTED of session sid: a
// session's last hook (it drains its queue when it ends), so everything else has arrived too.
func waitDisconnected(t *testing.T, b *backend.Backend, sid string) {
	t.Helper()
	b.WaitFor(t, 15*time.Second, "ConnectionStatusEvent DISCONNECTED of "+sid, func(h backend.Hook) bool {
		return h.Method == hooks.ConnectionStatusEvent && h.Field("sessionId") == sid &&
			h.Field("status") == wcs.SessionDisconnected
	})
}

// logHooks logs the hooks with their bodies (SDPs cut), for failure reports.
func logHooks(t *testing.T, hs []backend.Hook) {
	t.Helper()
	for _, h := range hs {
		raw := string(h.Raw)
		if i := strings.Index(raw, `"sdp":"v=0`); i >= 0 {
			if j := strings.Index(raw[i+7:], `"`); j >= 0 {
				raw = raw[:i+10] + "…" + raw[i+7+j:]
			}
		}
		t.Logf("  hook %s %s: %s", h.At.Format("15:04:05.000"), h.Method, raw)
	}
}

// TestWebSDKHooks runs connect, publish, play, sendData, stop, unpublish and disconnect through
// flashphoner.js in an application with every streaming hook enabled, and checks what its backend
// got for that session (docs/protocol.md §F.3, §F.4): every hook in the order of what the client
// did and was told, each with nodeId, sessionId and appKey; connect with the page's Origin and the
// SDK's custom object; publishStream with the name, the SDK's mediaSessionId and the offer;
// OnDataEvent with the page's payload, and DataStatusEvent ACCEPTED of the same operation.
func TestWebSDKHooks(t *testing.T) {
	requireBrowser(t)
	requireCluster(t)
	checkNoLeak(t)
	b := launchFirst(t, 2*time.Minute)
	const appKey = "hooksApp"
	hb := backend.Start(t)
	c := cluster.Start(t, cluster.Options{Apps: []rest.App{hb.App(appKey, hookMethods...)},
		Hooks: hooks.Options{Timeout: 10 * time.Second}})
	base := serveAssets(t)

	res := runHooksPage(t, b, base, c.WSURL, appKey, "full")
	if res.SessionID == "" {
		t.Fatal("the page got no authToken")
	}
	for _, w := range []struct{ who, status string }{
		{"session", "ESTABLISHED"}, {"publisher", "PUBLISHING"}, {"player", "PLAYING"},
		{"data", wcs.DataAccepted}, {"player", "STOPPED"}, {"publisher", "UNPUBLISHED"}, {"session", "DISCONNECTED"},
	} {
		if _, ok := res.event(w.who, w.status); !ok {
			t.Errorf("%s never reached %s", w.who, w.status)
		}
	}
	waitDisconnected(t, hb, res.SessionID)
	got := hb.Of(res.SessionID)
	if t.Failed() {
		logHooks(t, got)
	}

	want := []string{"connect", "ConnectionStatusEvent:ESTABLISHED", "publishStream", "StreamStatusEvent:PUBLISHING",
		"playStream", "StreamStatusEvent:PLAYING", "OnDataEvent", "DataStatusEvent:ACCEPTED", "stopStream",
		"StreamStatusEvent:STOPPED", "unPublishStream", "StreamStatusEvent:UNPUBLISHED", "ConnectionStatusEvent:DISCONNECTED"}
	if methods := backend.Methods(got); !slices.Equal(methods, want) {
		t.Errorf("hooks of session %s:\n got %q\nwant %q", res.SessionID, methods, want)
		logHooks(t, got)
	}
	// Every hook carries the context fields (§F.3).
	for _, h := range got {
		if h.Field("nodeId") != c.Signals[0].NodeID() || h.Field("sessionId") != res.SessionID || h.Field("appKey") != appKey {
			t.Errorf("%s: nodeId %q sessionId %q appKey %q, want %q %q %q", h.Method, h.Field("nodeId"),
				h.Field("sessionId"), h.Field("appKey"), c.Signals[0].NodeID(), res.SessionID, appKey)
		}
	}
	byMethod := func(method, status string) backend.Hook {
		for _, h := range got {
			if h.Method == method && (status == "" || h.Field("status") == status) {
				return h
			}
		}
		t.Errorf("no %s %s hook", method, status)
		return backend.Hook{Body: map[string]any{}}
	}

	connect := byMethod(hooks.Connect, "")
	if connect.Field("origin") != res.Origin || res.Origin != base {
		t.Errorf("connect origin %q, the page's origin %q, the asset server %q", connect.Field("origin"), res.Origin, base)
	}
	if custom, _ := connect.Body["custom"].(map[string]any); custom["token"] != "abc" {
		t.Errorf("connect custom %v, want token abc: %s", connect.Body["custom"], connect.Raw)
	}
	if connect.Field("clientVersion") != "2.0" {
		t.Errorf("connect clientVersion %q, want the SDK's 2.0", connect.Field("clientVersion"))
	}

	publish := byMethod(hooks.PublishStream, "")
	if publish.Field("name") != res.Name || publish.Field("mediaSessionId") != res.PublisherID ||
		publish.Body["published"] != true || !strings.HasPrefix(publish.Field("sdp"), "v=0") {
		t.Errorf("publishStream: name %q mediaSessionId %q (want %q %q), published %v, sdp %.20q",
			publish.Field("name"), publish.Field("mediaSessionId"), res.Name, res.PublisherID,
			publish.Body["published"], publish.Field("sdp"))
	}
	playHook := byMethod(hooks.PlayStream, "")
	if playHook.Field("name") != res.Name || playHook.Field("mediaSessionId") != res.PlayerID ||
		playHook.Body["published"] != false || !strings.HasPrefix(playHook.Field("sdp"), "v=0") {
		t.Errorf("playStream: name %q mediaSessionId %q (want %q %q), published %v, sdp %.20q",
			playHook.Field("name"), playHook.Field("mediaSessionId"), res.Name, res.PlayerID,
			playHook.Body["published"], playHook.Field("sdp"))
	}
	// Each status event names its own media session.
	for _, w := range []struct{ status, id string }{
		{wcs.StatusPublishing, res.PublisherID}, {wcs.StatusPlaying, res.PlayerID},
		{wcs.StatusStopped, res.PlayerID}, {wcs.StatusUnpublished, res.PublisherID},
	} {
		if h := byMethod(hooks.StreamStatusEvent, w.status); h.Field("mediaSessionId") != w.id || h.Field("name") != res.Name {
			t.Errorf("StreamStatusEvent %s: mediaSessionId %q name %q, want %q %q", w.status,
				h.Field("mediaSessionId"), h.Field("name"), w.id, res.Name)
		}
	}
	if h := byMethod(hooks.StopStream, ""); h.Field("mediaSessionId") != res.PlayerID {
		t.Errorf("stopStream mediaSessionId %q, want the player's %q", h.Field("mediaSessionId"), res.PlayerID)
	}
	if h := byMethod(hooks.UnPublishStream, ""); h.Field("mediaSessionId") != res.PublisherID {
		t.Errorf("unPublishStream mediaSessionId %q, want the publisher's %q", h.Field("mediaSessionId"), res.PublisherID)
	}

	data := byMethod(hooks.OnDataEvent, "")
	var sent any
	if err := json.Unmarshal(res.DataPayload, &sent); err != nil || sent == nil {
		t.Errorf("the page's payload %s: %v", res.DataPayload, err)
	}
	if data.Field("operationId") == "" || !reflect.DeepEqual(data.Body["payload"], sent) {
		t.Errorf("OnDataEvent operationId %q payload %v, want the page's %v", data.Field("operationId"), data.Body["payload"], sent)
	}
	if st := byMethod(hooks.DataStatusEvent, wcs.DataAccepted); st.Field("operationId") != data.Field("operationId") {
		t.Errorf("DataStatusEvent ACCEPTED of operation %q, OnDataEvent was %q", st.Field("operationId"), data.Field("operationId"))
	}
	if h := byMethod(hooks.ConnectionStatusEvent, wcs.SessionEstablished); h.Field("authToken") != res.SessionID {
		t.Errorf("ConnectionStatusEvent ESTABLISHED authToken %q, want %q", h.Field("authToken"), res.SessionID)
	}
	for _, h := range got {
		if ct := h.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
			t.Errorf("%s: Content-Type %q (§F.1)", h.Method, ct)
		}
	}
}

// TestWebSDKConnectRefused: what the WebSDK makes of the backend's refusals (docs/protocol.md
// §E.1b, §E.2b, §F.5). A connect answered 403 {"status":403,"reason":"Wrong credentials"} reaches
// the page as WARN with that info, and the session ends DISCONNECTED when the server closes the
// socket; the backend hears ConnectionStatusEvent FAILED. A publishStream answered 403 with a
// reason fails the SDK's stream with that reason when the connect answer's restClientConfig made
// publishStream restOnError FAIL (§F.6); without it (restOnError LOG, the default) the same 403
// publishes as usual.
func TestWebSDKConnectRefused(t *testing.T) {
	requireBrowser(t)
	requireCluster(t)
	checkNoLeak(t)
	b := launchFirst(t, 2*time.Minute)
	refusing, failing, logging := backend.Start(t), backend.Start(t), backend.Start(t)
	refusing.Answer(hooks.Connect, backend.Answer{Status: 403, Body: `{"status":403,"reason":"Wrong credentials"}`})
	failing.Answer(hooks.Connect, backend.Answer{Merge: map[string]any{
		"restClientConfig": map[string]any{hooks.PublishStream: map[string]any{"restOnError": "FAIL"}}}})
	const veto = `{"status":403,"reason":"No publishing today"}`
	failing.Answer(hooks.PublishStream, backend.Answer{Status: 403, Body: veto})
	logging.Answer(hooks.PublishStream, backend.Answer{Status: 403, Body: veto})
	c := cluster.Start(t, cluster.Options{Apps: []rest.App{
		refusing.App("refusingApp", hookMethods...), failing.App("failingApp", hookMethods...),
		logging.App("loggingApp", hookMethods...),
	}, Hooks: hooks.Options{Timeout: 10 * time.Second}})
	base := serveAssets(t)

	t.Run("connect", func(t *testing.T) {
		res := runHooksPage(t, b, base, c.WSURL, "refusingApp", "connect")
		warn, ok := res.event("session", "WARN")
		if !ok || warn.Info != "Wrong credentials" {
			t.Errorf("WARN %+v, want info %q", warn, "Wrong credentials")
		}
		if len(res.Warns) > 0 && res.Warns[0]["apiMethod"] != wcs.APIConnectionStatusEvent {
			t.Errorf("the fail frame %v, want apiMethod %s", res.Warns[0], wcs.APIConnectionStatusEvent)
		}
		end := res.Timeline[len(res.Timeline)-1]
		if end.Who != "session" || end.Status != "DISCONNECTED" {
			t.Errorf("the page ended with %+v, want the session DISCONNECTED", end)
		}
		if _, ok := res.event("session", "ESTABLISHED"); ok {
			t.Error("the refused session was ESTABLISHED")
		}
		// The backend hears the refusal of the connect it refused, for the same session.
		failed := refusing.WaitFor(t, 10*time.Second, "ConnectionStatusEvent FAILED", func(h backend.Hook) bool {
			return h.Method == hooks.ConnectionStatusEvent && h.Field("status") == wcs.SessionFailed
		})
		got := refusing.Hooks()
		if methods := backend.Methods(got); !slices.Equal(methods, []string{"connect", "ConnectionStatusEvent:FAILED"}) {
			t.Errorf("hooks %q, want connect and ConnectionStatusEvent:FAILED", methods)
			logHooks(t, got)
		}
		if failed.Field("info") != "Wrong credentials" || failed.Field("sessionId") == "" ||
			failed.Field("sessionId") != got[0].Field("sessionId") {
			t.Errorf("ConnectionStatusEvent FAILED: %s (connect: %s)", failed.Raw, got[0].Raw)
		}
	})

	t.Run("publish-FAIL", func(t *testing.T) {
		res := runHooksPage(t, b, base, c.WSURL, "failingApp", "publish")
		if e, ok := res.event("publisher", "FAILED"); !ok || e.Info != "No publishing today" {
			t.Errorf("publisher %+v, want FAILED %q", e, "No publishing today")
		}
		if e, ok := res.event("publisher", "PUBLISHING"); ok {
			t.Errorf("the vetoed stream was PUBLISHING (%+v)", e)
		}
		if e, ok := res.event("session", "WARN"); !ok || e.Info != "No publishing today" {
			t.Errorf("WARN %+v, want the fail frame's %q", e, "No publishing today")
		}
		if _, ok := res.event("session", "DISCONNECTED"); !ok {
			t.Error("the session did not end DISCONNECTED")
		}
		waitDisconnected(t, failing, res.SessionID)
		got := failing.Of(res.SessionID)
		want := []string{"connect", "ConnectionStatusEvent:ESTABLISHED", "publishStream", "StreamStatusEvent:FAILED",
			"ConnectionStatusEvent:DISCONNECTED"}
		if methods := backend.Methods(got); !slices.Equal(methods, want) {
			t.Errorf("hooks of session %s:\n got %q\nwant %q", res.SessionID, methods, want)
			logHooks(t, got)
		}
		for _, h := range got {
			if h.Method == hooks.StreamStatusEvent && (h.Field("info") != "No publishing today" ||
				h.Field("mediaSessionId") != res.PublisherID) {
				t.Errorf("StreamStatusEvent FAILED: %s, want info %q for %s", h.Raw, "No publishing today", res.PublisherID)
			}
		}
	})

	t.Run("publish-LOG", func(t *testing.T) {
		res := runHooksPage(t, b, base, c.WSURL, "loggingApp", "publish")
		for _, w := range []string{"PUBLISHING", "UNPUBLISHED"} {
			if _, ok := res.event("publisher", w); !ok {
				t.Errorf("publisher never reached %s despite restOnError LOG", w)
			}
		}
		if e, ok := res.event("publisher", "FAILED"); ok {
			t.Errorf("publisher FAILED %q under restOnError LOG", e.Info)
		}
		if len(res.Warns) != 0 {
			t.Errorf("WARNs %v under restOnError LOG", res.Warns)
		}
		waitDisconnected(t, logging, res.SessionID)
		got := logging.Of(res.SessionID)
		want := []string{"connect", "ConnectionStatusEvent:ESTABLISHED", "publishStream", "StreamStatusEvent:PUBLISHING",
			"unPublishStream", "StreamStatusEvent:UNPUBLISHED", "ConnectionStatusEvent:DISCONNECTED"}
		if methods := backend.Methods(got); !slices.Equal(methods, want) {
			t.Errorf("hooks of session %s:\n got %q\nwant %q", res.SessionID, methods, want)
			logHooks(t, got)
		}
	})
}
