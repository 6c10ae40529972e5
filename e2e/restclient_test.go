package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
)

// restExchange is one request the browser made to the REST API and the answer it got.
type restExchange struct {
	Method, Path, Origin, PreflightMethod string
	Status                                int
	AllowOrigin                           string
}

// restRecorder is a reverse proxy in front of a node's REST API that records what passes, so
// the test sees the browser's CORS preflights; the answers, headers included, are the API's.
type restRecorder struct {
	URL string

	mu        sync.Mutex
	exchanges []restExchange
}

// recordREST puts a restRecorder in front of target until the test ends.
func recordREST(t *testing.T, target string) *restRecorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &restRecorder{}
	tr := &http.Transport{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = tr
	proxy.ModifyResponse = func(resp *http.Response) error {
		req := resp.Request
		r.mu.Lock()
		defer r.mu.Unlock()
		r.exchanges = append(r.exchanges, restExchange{Method: req.Method, Path: req.URL.Path,
			Origin: req.Header.Get("Origin"), PreflightMethod: req.Header.Get("Access-Control-Request-Method"),
			Status: resp.StatusCode, AllowOrigin: resp.Header.Get("Access-Control-Allow-Origin")})
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	r.URL = srv.URL
	return r
}

// Exchanges is what passed so far, in order.
func (r *restRecorder) Exchanges() []restExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]restExchange(nil), r.exchanges...)
}

// restClientResult is window.__result of web/rest_client.html.
type restClientResult struct {
	OK          bool          `json:"ok"`
	Error       string        `json:"error"`
	Name        string        `json:"name"`
	SessionID   string        `json:"sessionId"`
	PublisherID string        `json:"publisherId"`
	Timeline    []pageEvent   `json:"timeline"`
	Found       []rest.Stream `json:"found"`
	FindAfter   string        `json:"findAfter"`
	Data        *struct {
		NodeID      string          `json:"nodeId"`
		SessionID   string          `json:"sessionId"`
		OperationID string          `json:"operationId"`
		Payload     json.RawMessage `json:"payload"`
	} `json:"data"`
}

func (r restClientResult) event(who, status string) (pageEvent, bool) {
	for _, e := range r.Timeline {
		if e.Who == who && e.Status == status {
			return e, true
		}
	}
	return pageEvent{}, false
}

// TestWebSDKRESTClient drives the management REST API (docs/protocol.md §G) with the REST client
// of the WebSDK package (flashphoner-rest-api.js, §H.12) from a page whose origin is not the
// API's, so each POST is a CORS preflight and the request (§G.1). The page publishes through
// flashphoner.js; the REST client finds the stream by name (stream/find: the Stream object of
// §G.3 with the session's ids) and terminates it by the mediaSessionId it found
// (stream/terminate): the SDK's publisher ends UNPUBLISHED "Stopped by rest /terminate" (§E.4
// names the publisher's terminal status), and a second find rejects. Then the test POSTs
// data/send for the page's session (its getUserData authToken) and the payload arrives through
// the SDK's APP_DATA (an OnDataEvent, §C.12).
func TestWebSDKRESTClient(t *testing.T) {
	requireBrowser(t)
	requireCluster(t)
	checkNoLeak(t)
	b := launchFirst(t, 2*time.Minute)
	c := cluster.Start(t, cluster.Options{})
	api := recordREST(t, c.RESTURLs[0])
	base := serveAssets(t)

	name := "e2e-" + randomHex(4)
	q := url.Values{"ws": {c.WSURL}, "rest": {api.URL}, "name": {name}}
	start := time.Now()
	if err := b.Navigate(b.Context(), base+"/rest_client.html?"+pageQuery(q)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(b.Context(), 60*time.Second)
	defer cancel()
	raw, err := b.WaitJSON(wctx, `window.__result && (window.__result.done || window.__result.awaitingData) && window.__result.sessionId`, 100*time.Millisecond)
	if err != nil {
		partial, _ := b.EvalJSON(b.Context(), `window.__result || null`)
		t.Fatalf("the page never got to await data: %v\npartial result: %s", err, partial)
	}
	var sid string
	if err := json.Unmarshal(raw, &sid); err != nil || sid == "" {
		t.Fatalf("the page's sessionId %s: %v", raw, err)
	}
	payload := `{"from":"rest","n":42,"list":["a",1]}`
	status, body := postREST(t, c.RESTURLs[0]+"/rest-api/data/send",
		`{"sessionId":"`+sid+`","operationId":"op-e2e-1","payload":`+payload+`}`)
	if status != http.StatusOK {
		t.Errorf("data/send: %d %s", status, body)
	}
	var res restClientResult
	waitResult(t, b, b.Context(), 30*time.Second, &res)
	t.Logf("stream %s: page done in %v, sessionId %s", name, time.Since(start).Round(time.Millisecond), res.SessionID)
	for _, e := range res.Timeline {
		t.Logf("  %6d ms  %-9s %s %s", e.Ms, e.Who, e.Status, e.Info)
	}
	exchanges := api.Exchanges()
	for _, x := range exchanges {
		t.Logf("  REST %-7s %-28s origin %s preflight %q → %d, Allow-Origin %q", x.Method, x.Path, x.Origin,
			x.PreflightMethod, x.Status, x.AllowOrigin)
	}
	if !res.OK {
		t.Errorf("page failed: %s", res.Error)
	}

	// (a) stream/find by name: the page's publisher, as §G.3 shows it.
	if len(res.Found) != 1 {
		t.Fatalf("stream/find %s found %d streams, want the publisher: %+v", name, len(res.Found), res.Found)
	}
	f := res.Found[0]
	if f.Name != name || f.MediaSessionID != res.PublisherID || !f.Published || f.SessionID != res.SessionID ||
		f.NodeID != c.Signals[0].NodeID() || f.AppKey != rest.DefaultApp || f.MediaType != "publish" ||
		f.Status != wcs.StatusPublishing {
		t.Errorf("stream/find: %+v\nwant name %s, mediaSessionId %s, sessionId %s, nodeId %s, appKey %s, publish, PUBLISHING",
			f, name, res.PublisherID, res.SessionID, c.Signals[0].NodeID(), rest.DefaultApp)
	}
	// (b) stream/terminate: the SDK's publisher ends with the server's terminal status.
	if e, ok := res.event("publisher", "UNPUBLISHED"); !ok || e.Info != wcs.InfoStoppedByRestTerminate {
		t.Errorf("publisher %+v, want UNPUBLISHED %q", e, wcs.InfoStoppedByRestTerminate)
	}
	if e, ok := res.event("publisher", "FAILED"); ok {
		t.Errorf("publisher FAILED %q after terminate", e.Info)
	}
	if _, ok := res.event("rest", "TERMINATED"); !ok {
		t.Error("stream/terminate did not resolve")
	}
	if res.FindAfter == "" {
		t.Error("stream/find after terminate did not reject")
	}
	// (c) data/send: the payload reaches the page's APP_DATA callback unchanged.
	if res.Data == nil {
		t.Fatal("the page got no OnDataEvent")
	}
	var got, want any
	_ = json.Unmarshal(res.Data.Payload, &got)
	_ = json.Unmarshal([]byte(payload), &want)
	if !reflect.DeepEqual(got, want) || res.Data.OperationID != "op-e2e-1" || res.Data.SessionID != sid {
		t.Errorf("OnDataEvent %+v payload %s, want operationId op-e2e-1, sessionId %s, payload %s",
			*res.Data, res.Data.Payload, sid, payload)
	}

	// CORS (§G.1): each POST of the REST client came from the page's origin after a preflight that
	// asked for POST, and every answer, the 404 included, allowed the origin. The second find
	// reuses the first one's preflight from Chromium's preflight cache (the API sends no
	// Access-Control-Max-Age, so the cache keeps it 5 s).
	wantPaths := []string{"/rest-api/stream/find", "/rest-api/stream/terminate", "/rest-api/stream/find"}
	var posts []string
	for i, x := range exchanges {
		if x.Origin != base {
			t.Errorf("REST %s %s with Origin %q, want the page's %q", x.Method, x.Path, x.Origin, base)
		}
		if x.AllowOrigin != "*" && x.AllowOrigin != base {
			t.Errorf("REST %s %s answered Access-Control-Allow-Origin %q", x.Method, x.Path, x.AllowOrigin)
		}
		if x.Method != http.MethodPost {
			continue
		}
		posts = append(posts, x.Path)
		var pre *restExchange
		for j := i - 1; j >= 0; j-- {
			if exchanges[j].Method == http.MethodOptions && exchanges[j].Path == x.Path {
				pre = &exchanges[j]
				break
			}
		}
		if pre == nil || pre.PreflightMethod != http.MethodPost || pre.Status/100 != 2 {
			t.Errorf("POST %s without a successful preflight asking for POST: %+v", x.Path, pre)
		}
	}
	if !slices.Equal(posts, wantPaths) {
		t.Errorf("the REST client's POSTs %q, want %q", posts, wantPaths)
	}
	if n := len(exchanges); n > 0 && exchanges[n-1].Status != http.StatusNotFound {
		t.Errorf("the last find answered %d, want 404", exchanges[n-1].Status)
	}
}

// postREST POSTs a JSON body to the REST API and returns the answer, on a connection that is
// closed afterwards (no goroutine is left behind).
func postREST(t *testing.T, u, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
