package signal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/session"
)

// docs/protocol.md §B.1, §C.1, §C.2, §E.1: getUserData echoes every connection field, then getVersion.
func TestConnectionEchoesUserData(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	ud := c.connect(map[string]any{
		"sipLogin": "alice", "sipPort": "5060", "custom": map[string]any{"login": "bob", "token": "t1"},
		"keepAlive": false, "authToken": "client-old-token",
	})
	want := map[string]any{"appKey": "defaultApp", "sipLogin": "alice", "sipPort": "5060", "clientVersion": "2.0",
		"status": "ESTABLISHED", "useWsTunnel": false, "useWsTunnelPacketization2": false,
		"useBase64BinaryEncoding": false, "keepAlive": false, "msePacketizationVersion": float64(2)}
	for k, v := range want {
		if ud[k] != v {
			t.Errorf("getUserData.%s = %v, want %v", k, ud[k], v)
		}
	}
	custom, _ := ud["custom"].(map[string]any)
	if custom["login"] != "bob" || custom["token"] != "t1" {
		t.Errorf("custom not echoed: %v", ud["custom"])
	}
	if tok, _ := ud["authToken"].(string); tok == "" || tok == "client-old-token" {
		t.Errorf("authToken = %q, want a new server token", tok)
	}
	if mp, _ := ud["mediaProviders"].([]any); len(mp) != 3 || mp[0] != "WebRTC" {
		t.Errorf("mediaProviders = %v", ud["mediaProviders"])
	}
	if e.srv.Sessions() != 1 || e.metric(metrics.NameConnections, "") != 1 {
		t.Errorf("Sessions() = %d, connections gauge %v, want 1", e.srv.Sessions(), e.metric(metrics.NameConnections, ""))
	}
	if n := e.metric(metrics.NameMessagesReceived, wcs.MsgConnection); n != 1 {
		t.Errorf("messages_received{connection} = %v", n)
	}
	// The writer counts a frame after writing it, so the client may read it first.
	eventually(t, "messages_sent{getUserData} and {getVersion}", func() bool {
		return e.metric(metrics.NameMessagesSent, wcs.MsgGetUserData) == 1 && e.metric(metrics.NameMessagesSent, wcs.MsgGetVersion) == 1
	})

	// A second connection on the same socket is refused and changes nothing.
	c.send(wcs.MsgConnection, map[string]any{"appKey": "other"})
	if f := c.fail(); f.APIMethod != wcs.APIConnectionStatusEvent || f.Status != wcs.StatusFailed {
		t.Errorf("second connection: %+v", f)
	}
	c.send(wcs.MsgSendData, map[string]any{"operationId": "op", "payload": 1})
	c.expect(wcs.MsgDataStatusEvent)
}

// getVersion carries the version string; the legacy connect name works too (§B.23, §C.2).
func TestLegacyConnectAndVersion(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.send(wcs.MsgConnect, map[string]any{"appKey": "defaultApp"})
	var ud map[string]any
	c.expect(wcs.MsgGetUserData).arg(t, 0, &ud)
	var v string
	c.expect(wcs.MsgGetVersion).arg(t, 0, &v)
	if v != wcs.Version || ud["status"] != "ESTABLISHED" {
		t.Errorf("version %q, userData %v", v, ud)
	}
}

// The server pings every PingInterval with data [] (§A.6, §C.3, §0 rule 1).
func TestServerPing(t *testing.T) {
	e := newEnv(t, signal.Config{PingInterval: 50 * time.Millisecond})
	c := e.dial(t)
	select {
	case f := <-c.frames:
		if string(f.raw) != `{"message":"ping","data":[]}` {
			t.Fatalf("first frame %s, want the server ping", f.raw)
		}
	case <-time.After(waitFor):
		t.Fatal("no ping")
	}
}

// A client that sends nothing for MissedPongs intervals is dropped; one that answers stays (§A.6).
// The interval leaves the answering client 500 ms to reply, far above a loaded machine's stalls.
func TestMissedPongsDisconnect(t *testing.T) {
	const interval, missed = 100 * time.Millisecond, 5
	e := newEnv(t, signal.Config{PingInterval: interval, MissedPongs: missed})
	live := e.dial(t)
	live.connect(nil)
	dead := e.dial(t)
	dead.mu.Lock()
	dead.silent = true
	dead.mu.Unlock()
	start := time.Now()
	dead.waitClosed(waitFor)
	if since := time.Since(start); since < (missed-1)*interval {
		t.Errorf("dropped after %v, before %d intervals", since, missed)
	}
	eventually(t, "the silent session to be removed", func() bool { return e.srv.Sessions() == 1 })
	// The answering client is still served after more than a whole missed-pong window of its own.
	live.pings(missed + 1)
	live.send(wcs.MsgSendData, map[string]any{"operationId": "o1"})
	live.expect(wcs.MsgDataStatusEvent)
	if n := e.metric(metrics.NameErrors, metrics.ReasonPingTimeout); n != 1 {
		t.Errorf("ping_timeout errors = %v, want 1 (the silent client only)", n)
	}
}

// Bad input of every kind is answered (or ignored) and never ends this session or another one
// (§A.3, §0 rule 13).
func TestBadInputKeepsSessions(t *testing.T) {
	e := newEnv(t, signal.Config{MaxFrameBytes: 1024})
	a, b := e.dial(t), e.dial(t)
	a.connect(nil)
	b.connect(nil)

	cases := []struct {
		name  string
		frame string
		info  string // expected fail info prefix; "" = no reply at all
		id    string // expected fail id (StreamStatusEvent)
	}{
		{"not json", `hello`, "Malformed message", ""},
		{"truncated", `{"message":"ping"`, "Malformed message", ""},
		{"array", `[1,2]`, "Malformed message", ""},
		{"number message", `{"message":5,"data":[]}`, "Malformed message", ""},
		{"no message", `{"data":[]}`, "Malformed message", ""},
		{"deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), "Malformed message", ""},
		{"unknown message", `{"message":"fooBar","data":[{}]}`, "", ""},
		{"publish not an object", `{"message":"publishStream","data":[5]}`, "Bad publishStream message", ""},
		{"publish wrong field type", `{"message":"publishStream","data":[{"mediaSessionId":"m-bad","hasVideo":{}}]}`,
			"Bad publishStream message", "m-bad"},
		{"play wrong field type", `{"message":"playStream","data":[{"mediaSessionId":"p-bad","name":["x"]}]}`,
			"Bad playStream message", "p-bad"},
		{"sendData wrong type", `{"message":"sendData","data":["x"]}`, "Bad sendData message", ""},
		{"availableStream wrong type", `{"message":"availableStream","data":[true]}`, "Bad availableStream message", ""},
		{"stop unknown id", `{"message":"stopStream","data":[{"mediaSessionId":"nope"}]}`, "", ""},
		{"unpublish no data", `{"message":"unPublishStream"}`, "", ""},
		{"pong without data", `{"message":"pong"}`, "", ""},
		{"pushLogs", `{"message":"pushLogs","data":[{"logs":"x"}]}`, "", ""},
		{"metrics batch", `{"message":"webRTCMetricsBatch","data":[{}]}`, "", ""},
		{"oversized", `{"message":"pushLogs","data":["` + strings.Repeat("x", 2000) + `"]}`,
			"Frame too large: 2034 bytes, limit 1024", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.t = t
			a.sendRaw([]byte(tc.frame))
			if tc.info == "" {
				a.quiet(100 * time.Millisecond)
			} else {
				f := a.fail()
				if !strings.HasPrefix(f.Info, tc.info) || f.Status != wcs.StatusFailed {
					t.Errorf("fail %+v, want info %q", f, tc.info)
				}
				if tc.id != "" && (f.ID != tc.id || f.APIMethod != wcs.APIStreamStatusEvent) {
					t.Errorf("fail %+v, want StreamStatusEvent for %s", f, tc.id)
				} else if tc.id == "" && f.APIMethod != "" {
					t.Errorf("fail %+v has an apiMethod", f)
				}
			}
			// The session still works.
			a.send(wcs.MsgSendData, map[string]any{"operationId": tc.name})
			var ds wcs.DataStatus
			a.expect(wcs.MsgDataStatusEvent).arg(t, 0, &ds)
			if ds.OperationID != tc.name {
				t.Errorf("DataStatusEvent %+v", ds)
			}
		})
	}
	a.t = t
	// A binary frame is ignored (§A.4).
	if err := a.ws.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	a.quiet(100 * time.Millisecond)

	// Above the hard limit (4 × MaxFrameBytes) only that connection is closed.
	a.sendRaw([]byte(`{"message":"pushLogs","data":["` + strings.Repeat("y", 5000) + `"]}`))
	if code := a.waitClosed(waitFor); code != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want StatusMessageTooBig", code)
	}
	b.send(wcs.MsgSendData, map[string]any{"operationId": "still-here"})
	b.expect(wcs.MsgDataStatusEvent)

	if n := e.metric(metrics.NameMessagesReceived, "other"); n != 1 {
		t.Errorf("messages_received{message=other} = %v, want 1", n)
	}
	if n := e.metric(metrics.NameErrors, metrics.ReasonMalformed); n < 10 {
		t.Errorf("errors{reason=malformed} = %v", n)
	}
}

// Before connection only ping/pong/pushLogs are accepted; stream messages fail by id (§D.4).
func TestSessionNotReady(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.send(wcs.MsgPong, nil)
	c.send(wcs.MsgPing, nil)
	c.send(wcs.MsgPushLogs, map[string]any{"logs": "early"})
	c.quiet(100 * time.Millisecond)

	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	f := c.fail()
	if f.APIMethod != wcs.APIStreamStatusEvent || f.ID != "m1" || f.Info != wcs.InfoSessionNotReady {
		t.Errorf("publish before connection: %+v", f)
	}
	c.send(wcs.MsgPlayStream, playReq("p1", "s1"))
	if f := c.fail(); f.ID != "p1" || f.Info != wcs.InfoSessionNotReady || f.Published == nil || *f.Published {
		t.Errorf("play before connection: %+v", f)
	}
	c.send(wcs.MsgSendData, map[string]any{"operationId": "o"})
	if f := c.fail(); f.APIMethod != "" || f.Info != wcs.InfoSessionNotReady {
		t.Errorf("sendData before connection: %+v", f)
	}
	c.connect(nil)
}

// availableStream answers with the STRING "false" and creates nothing (§0 rule 7, §C.10, §E.16).
func TestAvailableStreamFalse(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgAvailableStream, map[string]any{"mediaSessionId": "a1", "name": "nope"})
	f := c.expect(wcs.MsgAvailableStream)
	var raw map[string]any
	f.arg(t, 0, &raw)
	if raw["id"] != "a1" || raw["status"] != "false" || raw["info"] != wcs.InfoStreamNotFound {
		t.Errorf("availableStream %s", f.raw)
	}
}

// Playing a stream that is not published: FAILED "Stream not found" (§E.7).
func TestPlayMissingStream(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPlayStream, playReq("p9", "nope"))
	st := c.streamStatus()
	if st.MediaSessionID != "p9" || st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNotFound ||
		st.Name != "nope" || st.Published {
		t.Errorf("play missing: %+v", st)
	}
	c.quiet(100 * time.Millisecond) // no setRemoteSDP, nothing else
}

// Publishing with no media daemon alive fails with a clear info and claims no name.
func TestPublishWithoutMediad(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	st := c.streamStatus()
	if st.MediaSessionID != "m1" || st.Status != wcs.StatusFailed || st.Info != session.InfoNoMediaNode || !st.Published {
		t.Errorf("publish without mediad: %+v", st)
	}
	c.send(wcs.MsgAvailableStream, map[string]any{"mediaSessionId": "a", "name": "s1"})
	var av wcs.AvailableStream
	c.expect(wcs.MsgAvailableStream).arg(t, 0, &av)
	if av.Status != "false" {
		t.Errorf("name claimed by a failed publish: %+v", av)
	}
}

// mediaSessionId missing or empty → "MediaSessionId is null"; empty name → FAILED (§B.4).
func TestPublishBadIDs(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	req := publishReq("", "s1")
	delete(req, "mediaSessionId")
	c.send(wcs.MsgPublishStream, req)
	if f := c.fail(); f.Info != wcs.InfoMediaSessionIDNull || f.APIMethod != wcs.APIStreamStatusEvent {
		t.Errorf("no id: %+v", f)
	}
	c.send(wcs.MsgPublishStream, publishReq("m2", ""))
	if f := c.fail(); f.Info != session.InfoStreamNameEmpty || f.ID != "m2" {
		t.Errorf("no name: %+v", f)
	}
}

// sendData with no backend: DataStatusEvent ACCEPTED with the operationId (§E.14).
func TestSendDataAccepted(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	c.send(wcs.MsgSendData, map[string]any{"operationId": "op-1", "payload": map[string]any{"a": 1}})
	var ds map[string]any
	c.expect(wcs.MsgDataStatusEvent).arg(t, 0, &ds)
	if ds["operationId"] != "op-1" || ds["status"] != "ACCEPTED" || len(ds) != 2 {
		t.Errorf("DataStatusEvent %v", ds)
	}
}

// Origins: any by default; only the allow-list when configured.
func TestAllowedOrigins(t *testing.T) {
	e := newEnv(t, signal.Config{AllowedOrigins: []string{"good.example"}})
	hdr := func(origin string) *websocket.DialOptions {
		return &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}}
	}
	c := dialURL(t, e.url, hdr("https://good.example"))
	c.connect(nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, e.url, hdr("https://evil.example"))
	if err == nil {
		_ = ws.CloseNow()
		t.Fatal("evil origin accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("evil origin: %v %v", resp, err)
	}

	open := newEnv(t, signal.Config{})
	c2 := dialURL(t, open.url, hdr("https://anything.example"))
	c2.connect(nil)
}

// Shutdown closes sockets with StatusGoingAway and leaves no goroutine (checked by env cleanup).
func TestShutdown(t *testing.T) {
	e := newEnv(t, signal.Config{})
	clients := []*client{e.dial(t), e.dial(t), e.dial(t)}
	clients[0].connect(nil)
	clients[1].connect(nil)
	eventually(t, "3 sessions", func() bool { return e.srv.Sessions() == 3 })
	e.stop(true)
	for _, c := range clients {
		if code := c.waitClosed(waitFor); code != websocket.StatusGoingAway {
			t.Errorf("close status %v, want GoingAway", code)
		}
	}
	if e.srv.Sessions() != 0 {
		t.Errorf("Sessions() = %d after Shutdown", e.srv.Sessions())
	}
	// New connections are refused.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if ws, _, err := websocket.Dial(ctx, e.url, nil); err == nil {
		_ = ws.CloseNow()
		t.Error("dial after Shutdown succeeded")
	}
}

// metric reads a counter or gauge child (by one label value; "" = unlabelled) or a histogram's
// sample count from the env's registry.
func (e *env) metric(name, label string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// Hostile names: a name too long to be a stream is refused without touching the directory, and the
// node's NATS connection survives (a KV key derived from a 3 KB name would exceed NATS's
// control-line limit and close the connection for every session of the node).
func TestLongStreamNames(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	long := strings.Repeat("x", 3200)
	c.send(wcs.MsgAvailableStream, map[string]any{"mediaSessionId": "a1", "name": long})
	var av wcs.AvailableStream
	c.expect(wcs.MsgAvailableStream).arg(t, 0, &av)
	if av.Status != "false" || av.Info != wcs.InfoStreamNotFound {
		t.Errorf("availableStream of a 3200-byte name: %+v", av)
	}
	c.send(wcs.MsgPublishStream, publishReq("m1", long))
	if st := c.fail(); st.ID != "m1" || st.Info != wcs.InfoStreamNameTooLong {
		t.Errorf("publish of a 3200-byte name: %+v", st)
	}
	// A name just under the limit goes through the directory and gets an ordinary answer.
	c.send(wcs.MsgPlayStream, playReq("p1", strings.Repeat("y", wcs.MaxStreamNameBytes)))
	if st := c.streamStatus(); st.Status != wcs.StatusFailed || st.Info != wcs.InfoStreamNotFound {
		t.Errorf("play of a 1024-byte name: %+v", st)
	}
	other := e.dial(t)
	other.connect(nil)
	other.send(wcs.MsgAvailableStream, map[string]any{"mediaSessionId": "a2", "name": "normal"})
	other.expect(wcs.MsgAvailableStream).arg(t, 0, &av)
	if av.Info != wcs.InfoStreamNotFound {
		t.Errorf("another session after the long names: %+v (the directory is unreachable?)", av)
	}
}
