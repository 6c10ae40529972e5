package scenario

// The management REST API (docs/protocol.md §G) end to end: an in-process cluster of two signal
// nodes carrying real WebRTC sessions, asked over HTTP as a customer's backend asks it. Every
// question goes to one node and is answered for the whole cluster (§G), so most of them are put
// to node A about sessions on node B.
//
// The tests are not parallel: each starts its own cluster and checks, when it ends, that closing
// the cluster left no goroutine behind (waitGoroutines, as TestInProcess), which only holds while
// no other test runs. Sequential tests run before the package's parallel ones.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/restapi"
	"github.com/potok-media/potok/signal/restauth"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// restTimeout bounds one REST API request; a bound, not a measurement.
const restTimeout = 10 * time.Second

// TestRESTStreams proves the stream endpoints of §G.2 on live WebRTC sessions: two streams
// published on signal node B and one of them played from node A are found through node A's REST
// API, all three with the owner fields of §G.3 (nodeId, sessionId, appKey, mediaType) and the
// Stream object's name, published and status; each filter of stream/find selects what it says,
// alone and combined (every field given must match, §G.1); display:["metrics"] adds the media
// daemon's figures of the synthetic 320x240 source; nothing matching is a 404 with a JSON error.
// stream/event/send reaches every player of the stream on both nodes as a notifyStreamEvent
// "data" (§C.9). stream/terminate ends exactly what its filter names with "Stopped by rest
// /terminate" and leaves the rest playing; a terminated publisher's players end FAILED "Stopped
// by publisher stop" (§I.1).
func TestRESTStreams(t *testing.T) {
	c, api := restCluster(t, cluster.Options{Signals: 2, Mediads: 2})
	a := api[0]
	nodeA, nodeB := Target{WSURL: c.WSURLs[0]}, Target{WSURL: c.WSURLs[1]}
	idA, idB := c.Signals[0].NodeID(), c.Signals[1].NodeID()

	sessB1, sessB2 := connect(t, nodeB), connect(t, nodeB)
	nameX, nameY := streamName("rest-x"), streamName("rest-y")
	pubX := publishSynthetic(t, sessB1, nameX, wcs.StatusPublishing)
	pubY := publishSynthetic(t, sessB2, nameY, wcs.StatusPublishing)
	sessA := connect(t, nodeA)
	playX := play(t, sessA, wasmclient.PlayOptions{Name: nameX}, wcs.StatusPlaying)
	live := []ownedStream{
		{pubX, sessB1, idB, wcs.StatusPublishing},
		{pubY, sessB2, idB, wcs.StatusPublishing},
		{playX, sessA, idA, wcs.StatusPlaying},
	}

	t.Run("FindAll", func(t *testing.T) {
		// The WebSDK's REST helper sends a parameter-less call as GET without a body (§H.12).
		got := a.get(t, "stream/find_all").want(t, http.StatusOK, "GET stream/find_all").streams(t)
		checkStreams(t, "GET stream/find_all", got, live...)
		got = a.post(t, "stream/find_all", nil).want(t, http.StatusOK, "POST stream/find_all").streams(t)
		checkStreams(t, "POST stream/find_all", got, live...)
		// Node B answers the same for the cluster.
		got = api[1].get(t, "stream/find_all").want(t, http.StatusOK, "stream/find_all on node B").streams(t)
		checkStreams(t, "stream/find_all on node B", got, live...)
	})

	t.Run("FindFilters", func(t *testing.T) {
		pubs, player := live[:2], live[2:]
		cases := []struct {
			body string
			want []ownedStream
		}{
			{`{}`, live},
			{fmt.Sprintf(`{"name":%q}`, nameX), []ownedStream{live[0], live[2]}},
			{fmt.Sprintf(`{"name":%q}`, nameY), live[1:2]},
			{fmt.Sprintf(`{"mediaSessionId":%q}`, playX.MediaSessionID()), player},
			{fmt.Sprintf(`{"mediaSessionId":%q}`, pubY.MediaSessionID()), live[1:2]},
			{`{"status":"PUBLISHING"}`, pubs},
			{`{"status":"PLAYING"}`, player},
			{`{"published":true}`, pubs},
			{`{"published":"true"}`, pubs},
			{`{"published":false}`, player},
			{`{"published":"false"}`, player},
			{`{"published":null}`, live}, // null is absent (README "REST API")
			{fmt.Sprintf(`{"sessionId":%q}`, sessB2.AuthToken()), live[1:2]},
			{fmt.Sprintf(`{"sessionId":%q}`, sessA.AuthToken()), player},
			{fmt.Sprintf(`{"name":%q,"published":true}`, nameX), live[:1]},
			{fmt.Sprintf(`{"name":%q,"published":"false"}`, nameX), player},
			{fmt.Sprintf(`{"sessionId":%q,"status":"PUBLISHING"}`, sessB1.AuthToken()), live[:1]},
			{`{"name":"no-such-stream"}`, nil},
			{fmt.Sprintf(`{"name":%q,"published":false}`, nameY), nil},
			{fmt.Sprintf(`{"mediaSessionId":%q,"published":true}`, playX.MediaSessionID()), nil},
			{`{"status":"FAILED"}`, nil},
			{`{"sessionId":"no-such-session"}`, nil},
		}
		for _, tc := range cases {
			res := a.post(t, "stream/find", tc.body)
			if len(tc.want) == 0 {
				res.wantError(t, http.StatusNotFound, "stream/find "+tc.body)
				continue
			}
			checkStreams(t, "stream/find "+tc.body, res.want(t, http.StatusOK, "stream/find "+tc.body).streams(t), tc.want...)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		// Without display the metrics are absent.
		raw := a.post(t, "stream/find", fmt.Sprintf(`{"name":%q}`, nameX)).want(t, http.StatusOK, "stream/find")
		for _, st := range raw.objects(t) {
			if _, ok := st["metrics"]; ok {
				t.Errorf("stream/find without display: %s has metrics %s", st["mediaSessionId"], st["metrics"])
			}
		}
		for _, o := range []ownedStream{live[0], live[2]} {
			body := fmt.Sprintf(`{"mediaSessionId":%q,"display":["metrics"]}`, o.st.MediaSessionID())
			testwait.UntilOK(t, mediaTimeout, streamKind(o.st)+" metrics of a running stream", func() error {
				res := a.post(t, "stream/find", body)
				if res.code != http.StatusOK {
					return fmt.Errorf("HTTP %d %s", res.code, res.body)
				}
				got := res.streams(t)
				if len(got) != 1 {
					return fmt.Errorf("%d streams", len(got))
				}
				m := got[0].Metrics
				if m[rest.MetricVideoRate] <= 0 || m[rest.MetricVideoWidth] != 320 || m[rest.MetricVideoHeight] != 240 {
					return fmt.Errorf("metrics %v, want %s > 0 and 320x240", m, rest.MetricVideoRate)
				}
				return nil
			})
		}
		// A lone string is a list of one, as hand-written calls send it.
		got := a.post(t, "stream/find", fmt.Sprintf(`{"mediaSessionId":%q,"display":"metrics"}`, pubX.MediaSessionID())).
			want(t, http.StatusOK, `display:"metrics"`).streams(t)
		if len(got) != 1 || got[0].Metrics[rest.MetricVideoRate] <= 0 {
			t.Errorf(`display:"metrics": %+v, want the publisher with a video rate`, got)
		}
	})

	// A second player of X, on the publisher's node, for the stream event.
	sessB3 := connect(t, nodeB)
	playX2 := play(t, sessB3, wasmclient.PlayOptions{Name: nameX}, wcs.StatusPlaying)

	t.Run("StreamEventSend", func(t *testing.T) {
		payload := `{"text":"hello players","n":[1,2,3],"nested":{"ok":true}}`
		a.post(t, "stream/event/send", fmt.Sprintf(`{"streamName":%q,"payload":%s}`, nameX, payload)).
			want(t, http.StatusOK, "stream/event/send")
		for _, p := range []*wasmclient.Stream{playX, playX2} {
			testwait.UntilOK(t, stepTimeout, "notifyStreamEvent data at "+p.MediaSessionID(), func() error {
				for _, ev := range p.StreamEvents() {
					if ev.Type == wcs.EventData && jsonEqual(ev.Payload, []byte(payload)) {
						if ev.MediaSessionID != p.MediaSessionID() {
							return fmt.Errorf("event for %s", ev.MediaSessionID)
						}
						return nil
					}
				}
				return fmt.Errorf("stream events %+v", p.StreamEvents())
			})
		}
		for _, p := range []*wasmclient.Stream{pubY} {
			for _, ev := range p.StreamEvents() {
				if ev.Type == wcs.EventData {
					t.Errorf("publisher of another stream got the event: %+v", ev)
				}
			}
		}
		a.post(t, "stream/event/send", `{"streamName":"no-such-stream","payload":{}}`).
			wantError(t, http.StatusNotFound, "stream/event/send to an unknown stream")
		a.post(t, "stream/event/send", `{"payload":{}}`).
			wantError(t, http.StatusBadRequest, "stream/event/send without streamName")
	})

	t.Run("Terminate", func(t *testing.T) {
		// One player, by its id: only it ends.
		a.post(t, "stream/terminate", fmt.Sprintf(`{"mediaSessionId":%q}`, playX.MediaSessionID())).
			want(t, http.StatusOK, "stream/terminate a player")
		waitTerminal(t, playX, wcs.StatusStopped, wcs.InfoStoppedByRestTerminate)
		stillLive(t, "after terminating one player", pubX, pubY, playX2)
		keepReceiving(t, "after another player was terminated", playX2)
		rest4 := []ownedStream{live[0], live[1], {playX2, sessB3, idB, wcs.StatusPlaying}}
		testwait.UntilOK(t, stepTimeout, "the terminated player gone from stream/find_all", func() error {
			return sameStreams(a.get(t, "stream/find_all").streamsOrNone(t), rest4...)
		})
		if s := sessA.Status(); s != wasmclient.SessionEstablished {
			t.Errorf("the terminated player's session is %s, want it kept %s", s, wasmclient.SessionEstablished)
		}

		// A publisher, by its id: it ends UNPUBLISHED, its player FAILED (§I.1), the other
		// publisher goes on.
		a.post(t, "stream/terminate", fmt.Sprintf(`{"mediaSessionId":%q}`, pubX.MediaSessionID())).
			want(t, http.StatusOK, "stream/terminate a publisher")
		waitTerminal(t, pubX, wcs.StatusUnpublished, wcs.InfoStoppedByRestTerminate)
		obj, err := playX2.WaitStatus(ctx(t), wcs.StatusFailed)
		t.Logf("the terminated publisher's player ended %s %q (%v)", obj.Status, obj.Info, err)
		if err != nil || obj.Info != wcs.InfoStoppedByPublisherStop {
			t.Errorf("the terminated publisher's player: %s %q (%v), want %s %q", obj.Status, obj.Info, err,
				wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
		}
		stillLive(t, "after terminating the other publisher", pubY)

		// Two players by mediaSessionIds: both end, their publisher goes on.
		playY1 := play(t, sessA, wasmclient.PlayOptions{Name: nameY}, wcs.StatusPlaying)
		playY2 := play(t, sessB3, wasmclient.PlayOptions{Name: nameY}, wcs.StatusPlaying)
		playY3 := play(t, connect(t, nodeA), wasmclient.PlayOptions{Name: nameY}, wcs.StatusPlaying)
		a.post(t, "stream/terminate", fmt.Sprintf(`{"mediaSessionIds":[%q,%q,"no-such-id"]}`,
			playY1.MediaSessionID(), playY2.MediaSessionID())).want(t, http.StatusOK, "stream/terminate mediaSessionIds")
		waitTerminal(t, playY1, wcs.StatusStopped, wcs.InfoStoppedByRestTerminate)
		waitTerminal(t, playY2, wcs.StatusStopped, wcs.InfoStoppedByRestTerminate)
		stillLive(t, "after terminating two of its players", pubY, playY3)
		keepReceiving(t, "after two other players were terminated", playY3)

		// Nothing matching is a 404, and ends nothing.
		for _, body := range []string{
			`{"mediaSessionId":"no-such-id"}`,
			`{"mediaSessionIds":["no-such-id","nor-this"]}`,
			`{"name":"no-such-stream"}`,
			fmt.Sprintf(`{"name":%q,"published":false,"mediaSessionId":%q}`, nameY, pubY.MediaSessionID()),
		} {
			a.post(t, "stream/terminate", body).wantError(t, http.StatusNotFound, "stream/terminate "+body)
		}
		stillLive(t, "after terminates that matched nothing", pubY, playY3)

		// The last publisher by session and published given as a string: its player fails.
		a.post(t, "stream/terminate", fmt.Sprintf(`{"sessionId":%q,"published":"true"}`, sessB2.AuthToken())).
			want(t, http.StatusOK, "stream/terminate by sessionId")
		waitTerminal(t, pubY, wcs.StatusUnpublished, wcs.InfoStoppedByRestTerminate)
		waitTerminal(t, playY3, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
		testwait.UntilOK(t, stepTimeout, "stream/find_all empty (404)", func() error {
			if res := a.get(t, "stream/find_all"); res.code != http.StatusNotFound {
				return fmt.Errorf("HTTP %d %s", res.code, res.body)
			}
			return nil
		})
		a.get(t, "stream/find_all").wantError(t, http.StatusNotFound, "stream/find_all without streams")
		for _, s := range []*wasmclient.Session{sessA, sessB1, sessB2, sessB3} {
			if st := s.Status(); st != wasmclient.SessionEstablished {
				t.Errorf("session %s is %s after its streams were terminated, want %s", s.AuthToken(), st, wasmclient.SessionEstablished)
			}
		}
	})
}

// TestRESTConnections proves the connection, data and logger endpoints of §G.2 across nodes:
// connection/find_all lists every established session of both nodes as §G.3 describes it (the
// client's connection fields plus nodeId, sessionId, appKey, status), connection/find selects by
// appKey and sessionId, a sipPassword the client sent is masked in every answer; data/send put to
// node A reaches a client of node B as an OnDataEvent with its payload and operationId (§C.12)
// and no other client; the client log switches answer 200 for a live session, 404 for an unknown
// one and 400 for an unknown level; connection/terminate closes exactly that session's socket
// (§E.8); unknown sessions are 404s with a JSON error.
func TestRESTConnections(t *testing.T) {
	c, api := restCluster(t, cluster.Options{Signals: 2, Mediads: 1})
	a := api[0]
	nodeA, nodeB := Target{WSURL: c.WSURLs[0]}, Target{WSURL: c.WSURLs[1]}
	idA, idB := c.Signals[0].NodeID(), c.Signals[1].NodeID()
	const sipPassword = "s3cret-sip-password"

	sA := connect(t, nodeA)
	sSIP := connectWith(t, nodeB, wasmclient.SessionOptions{
		Extra: map[string]any{"sipLogin": "alice", "sipPassword": sipPassword, "sipDomain": "example.org"}})
	sEcho := connectWith(t, nodeB, wasmclient.SessionOptions{AppKey: rest.EchoApp})
	all := []ownedSession{
		{sA, idA, rest.DefaultApp},
		{sSIP, idB, rest.DefaultApp},
		{sEcho, idB, rest.EchoApp},
	}

	t.Run("FindAll", func(t *testing.T) {
		res := a.get(t, "connection/find_all").want(t, http.StatusOK, "GET connection/find_all")
		checkConnections(t, "GET connection/find_all", res.objects(t), all...)
		if bytes.Contains(res.body, []byte(sipPassword)) {
			t.Errorf("connection/find_all shows the sipPassword: %s", res.body)
		}
		res = api[1].post(t, "connection/find_all", nil).want(t, http.StatusOK, "connection/find_all on node B")
		checkConnections(t, "connection/find_all on node B", res.objects(t), all...)
		for _, conn := range res.objects(t) {
			switch string(conn["sessionId"]) {
			case jsonString(sSIP.AuthToken()):
				if string(conn["sipPassword"]) != `"******"` || string(conn["sipLogin"]) != `"alice"` {
					t.Errorf("the SIP session: sipPassword %s, sipLogin %s, want masked and alice", conn["sipPassword"], conn["sipLogin"])
				}
			default:
				if _, ok := conn["sipPassword"]; ok {
					t.Errorf("session %s sent no sipPassword but has one: %s", conn["sessionId"], conn["sipPassword"])
				}
			}
		}
	})

	t.Run("Find", func(t *testing.T) {
		cases := []struct {
			body string
			want []ownedSession
		}{
			{`{}`, all},
			{`{"appKey":"defaultApp"}`, all[:2]},
			{`{"appKey":"EchoApp"}`, all[2:]},
			{fmt.Sprintf(`{"sessionId":%q}`, sSIP.AuthToken()), all[1:2]},
			{fmt.Sprintf(`{"sessionId":%q}`, sA.AuthToken()), all[:1]},
			{fmt.Sprintf(`{"sessionId":%q,"appKey":"defaultApp"}`, sSIP.AuthToken()), all[1:2]},
			{`{"clientVersion":"2.0"}`, all},
			{fmt.Sprintf(`{"sessionId":%q,"appKey":"EchoApp"}`, sSIP.AuthToken()), nil},
			{`{"sessionId":"no-such-session"}`, nil},
			{`{"appKey":"noSuchApp"}`, nil},
			{`{"clientVersion":"0.1"}`, nil},
		}
		for _, tc := range cases {
			res := a.post(t, "connection/find", tc.body)
			if len(tc.want) == 0 {
				res.wantError(t, http.StatusNotFound, "connection/find "+tc.body)
				continue
			}
			res.want(t, http.StatusOK, "connection/find "+tc.body)
			checkConnections(t, "connection/find "+tc.body, res.objects(t), tc.want...)
			if bytes.Contains(res.body, []byte(sipPassword)) {
				t.Errorf("connection/find %s shows the sipPassword: %s", tc.body, res.body)
			}
		}
	})

	t.Run("DataSend", func(t *testing.T) {
		payload := `{"command":"hello","args":["a",1,null],"deep":{"x":1.5}}`
		op := streamName("op")
		a.post(t, "data/send", fmt.Sprintf(`{"sessionId":%q,"operationId":%q,"payload":%s}`, sSIP.AuthToken(), op, payload)).
			want(t, http.StatusOK, "data/send to node B through node A")
		testwait.UntilOK(t, stepTimeout, "OnDataEvent at the client", func() error {
			for _, ev := range sSIP.Data() {
				if ev.OperationID == op {
					if !jsonEqual(ev.Payload, []byte(payload)) || ev.SessionID != sSIP.AuthToken() || ev.NodeID != idB {
						return fmt.Errorf("got %+v (payload %s), want payload %s, sessionId %s, nodeId %s",
							ev, ev.Payload, payload, sSIP.AuthToken(), idB)
					}
					return nil
				}
			}
			return fmt.Errorf("data events %+v", sSIP.Data())
		})
		// A string payload goes as it was sent.
		a.post(t, "data/send", fmt.Sprintf(`{"sessionId":%q,"operationId":"op-2","payload":"plain text"}`, sSIP.AuthToken())).
			want(t, http.StatusOK, "data/send a string")
		testwait.UntilOK(t, stepTimeout, "the second OnDataEvent", func() error {
			for _, ev := range sSIP.Data() {
				if ev.OperationID == "op-2" && string(ev.Payload) == `"plain text"` {
					return nil
				}
			}
			return fmt.Errorf("data events %+v", sSIP.Data())
		})
		for _, s := range []*wasmclient.Session{sA, sEcho} {
			if d := s.Data(); len(d) != 0 {
				t.Errorf("session %s got another session's data: %+v", s.AuthToken(), d)
			}
		}
		a.post(t, "data/send", `{"sessionId":"no-such-session","payload":{}}`).
			wantError(t, http.StatusNotFound, "data/send to an unknown session")
		// nodeId is optional; given, only that node delivers.
		a.post(t, "data/send", fmt.Sprintf(`{"nodeId":%q,"sessionId":%q,"payload":{}}`, idA, sSIP.AuthToken())).
			wantError(t, http.StatusNotFound, "data/send naming another node than the session's")
		a.post(t, "data/send", fmt.Sprintf(`{"nodeId":%q,"sessionId":%q,"operationId":"op-3","payload":3}`, idB, sSIP.AuthToken())).
			want(t, http.StatusOK, "data/send naming the session's node")
		testwait.UntilOK(t, stepTimeout, "the OnDataEvent sent with nodeId", func() error {
			for _, ev := range sSIP.Data() {
				if ev.OperationID == "op-3" && string(ev.Payload) == "3" {
					return nil
				}
			}
			return fmt.Errorf("data events %+v", sSIP.Data())
		})
		a.post(t, "data/send", `{"payload":{}}`).wantError(t, http.StatusBadRequest, "data/send without sessionId")
	})

	t.Run("ClientLog", func(t *testing.T) {
		id := sSIP.AuthToken()
		for _, tc := range []struct{ path, body string }{
			{"logger/enable_client_log", fmt.Sprintf(`{"sessionId":%q,"logLevel":"DEBUG"}`, id)},
			{"logger/enable_client_log", fmt.Sprintf(`{"sessionId":%q}`, id)},
			{"logger/disable_client_log", fmt.Sprintf(`{"sessionId":%q}`, id)},
			{"connection/set_log_level", fmt.Sprintf(`{"sessionId":%q,"logLevel":"TRACE"}`, id)},
			{"connection/set_log_level", fmt.Sprintf(`{"sessionId":%q,"logLevel":"warn"}`, sA.AuthToken())},
		} {
			a.post(t, tc.path, tc.body).want(t, http.StatusOK, tc.path+" "+tc.body)
		}
		for _, tc := range []struct {
			path, body string
			code       int
		}{
			{"logger/enable_client_log", `{"sessionId":"no-such-session","logLevel":"DEBUG"}`, http.StatusNotFound},
			{"logger/disable_client_log", `{"sessionId":"no-such-session"}`, http.StatusNotFound},
			{"connection/set_log_level", `{"sessionId":"no-such-session","logLevel":"INFO"}`, http.StatusNotFound},
			{"logger/enable_client_log", fmt.Sprintf(`{"sessionId":%q,"logLevel":"LOUD"}`, id), http.StatusBadRequest},
			{"connection/set_log_level", fmt.Sprintf(`{"sessionId":%q,"logLevel":"LOUD"}`, id), http.StatusBadRequest},
			{"connection/set_log_level", fmt.Sprintf(`{"sessionId":%q,"logLevel":"LOUD"}`, sA.AuthToken()), http.StatusBadRequest},
			{"logger/disable_client_log", `{}`, http.StatusBadRequest},
		} {
			a.post(t, tc.path, tc.body).wantError(t, tc.code, tc.path+" "+tc.body)
		}
		for _, s := range []*wasmclient.Session{sA, sSIP} {
			if st := s.Status(); st != wasmclient.SessionEstablished {
				t.Errorf("session %s is %s after the log switches, want %s", s.AuthToken(), st, wasmclient.SessionEstablished)
			}
		}
	})

	t.Run("Terminate", func(t *testing.T) {
		victim := connect(t, nodeB)
		a.post(t, "connection/terminate", fmt.Sprintf(`{"sessionId":%q}`, victim.AuthToken())).
			want(t, http.StatusOK, "connection/terminate")
		select {
		case <-victim.Done():
		case <-ctx(t).Done():
			t.Fatalf("connection/terminate: the session's socket is still open (%s)", victim.Status())
		}
		if err := victim.Err(); err != nil {
			t.Errorf("terminated session ended with %v, want a normal close", err)
		}
		testwait.UntilOK(t, stepTimeout, "the terminated session gone from connection/find", func() error {
			if res := a.post(t, "connection/find", fmt.Sprintf(`{"sessionId":%q}`, victim.AuthToken())); res.code != http.StatusNotFound {
				return fmt.Errorf("HTTP %d %s", res.code, res.body)
			}
			return nil
		})
		checkConnections(t, "connection/find_all after the terminate",
			a.get(t, "connection/find_all").want(t, http.StatusOK, "connection/find_all").objects(t), all...)
		for _, o := range all {
			if st := o.s.Status(); st != wasmclient.SessionEstablished {
				t.Errorf("session %s is %s after another one was terminated", o.s.AuthToken(), st)
			}
		}
		a.post(t, "connection/terminate", `{"sessionId":"no-such-session"}`).
			wantError(t, http.StatusNotFound, "connection/terminate of an unknown session")
		a.post(t, "connection/terminate", fmt.Sprintf(`{"sessionId":%q}`, victim.AuthToken())).
			wantError(t, http.StatusNotFound, "connection/terminate of a terminated session")
		a.post(t, "connection/terminate", `{}`).wantError(t, http.StatusBadRequest, "connection/terminate without sessionId")
	})

	t.Run("BadInput", func(t *testing.T) {
		big := append(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), restapi.DefaultMaxBodyBytes)...), `"}`...)
		for _, tc := range []struct {
			path string
			body []byte
			code int
			in   string // what the reason names
		}{
			{"stream/find", []byte(`{"name":`), http.StatusBadRequest, "malformed JSON"},
			{"stream/find", []byte(`not json at all`), http.StatusBadRequest, "malformed JSON"},
			{"stream/find", []byte(`[1,2,3]`), http.StatusBadRequest, "malformed JSON"},
			{"stream/find", []byte(`"a string"`), http.StatusBadRequest, "malformed JSON"},
			{"stream/find", []byte(`{"published":{}}`), http.StatusBadRequest, "published"},
			{"stream/find", []byte(`{"published":"yes"}`), http.StatusBadRequest, "published"},
			{"stream/find", []byte(`{"name":5}`), http.StatusBadRequest, "name"},
			{"stream/find", []byte(`{"mediaSessionIds":7}`), http.StatusBadRequest, "mediaSessionIds"},
			{"stream/terminate", []byte(`{"status":["PLAYING"]}`), http.StatusBadRequest, "status"},
			{"connection/find", []byte(`{"appKey":true}`), http.StatusBadRequest, "appKey"},
			{"data/send", []byte(`{"sessionId":["x"]}`), http.StatusBadRequest, "sessionId"},
			{"app/add", []byte(`{"appKey":"x","methods":"nonsense"}`), http.StatusBadRequest, "nonsense"},
			{"stream/find", big, http.StatusRequestEntityTooLarge, "too large"},
			{"connection/find", big, http.StatusRequestEntityTooLarge, "too large"},
		} {
			what := fmt.Sprintf("%s %.40q", tc.path, tc.body)
			e := a.post(t, tc.path, tc.body).wantError(t, tc.code, what)
			if !strings.Contains(e.Reason, tc.in) {
				t.Errorf("%s: reason %q does not name %q", what, e.Reason, tc.in)
			}
		}
		a.do(t, http.MethodDelete, "stream/find_all", nil).wantError(t, http.StatusMethodNotAllowed, "DELETE")
		a.get(t, "no/such/method").wantError(t, http.StatusNotFound, "an unknown path")
		a.get(t, "call/startup").wantError(t, http.StatusNotImplemented, "a WCS method Potok does not have")
		// The server keeps serving, and the sessions are untouched.
		checkConnections(t, "connection/find_all after bad input",
			a.get(t, "connection/find_all").want(t, http.StatusOK, "connection/find_all after bad input").objects(t), all...)
		for _, o := range all {
			if st := o.s.Status(); st != wasmclient.SessionEstablished {
				t.Errorf("session %s is %s after bad REST input", o.s.AuthToken(), st)
			}
		}
	})
}

// TestRESTApps proves the application endpoints (§G.2, the registry of §F.2) across nodes: an
// app added through node A is soon known to node B, which then accepts a session with its appKey;
// once removed, node B refuses a new session with it, "Application not found" (§E.1b). app/add of
// an existing key is a 409 and app/remove of an absent one a 404; app/find_all lists the built-in
// defaultApp and EchoApp; app/method/add and app/method/remove change the methods and nothing
// else, and no answer carries a restPassword (§G.3).
func TestRESTApps(t *testing.T) {
	c, api := restCluster(t, cluster.Options{Signals: 2, Mediads: 1})
	a, b := api[0], api[1]
	nodeA, nodeB := Target{WSURL: c.WSURLs[0]}, Target{WSURL: c.WSURLs[1]}
	key := streamName("restApp")
	const password = "app-rest-password"

	apps := a.get(t, "app/find_all").want(t, http.StatusOK, "app/find_all").apps(t)
	for _, k := range []string{rest.DefaultApp, rest.EchoApp} {
		if !slices.ContainsFunc(apps, func(x rest.App) bool { return x.Key == k }) {
			t.Errorf("app/find_all %+v has no %s", apps, k)
		}
	}
	if _, err := connectErr(nodeB, wasmclient.SessionOptions{AppKey: key}); err == nil ||
		!strings.Contains(err.Error(), "Application not found") {
		t.Fatalf("connect with an appKey not yet added: %v, want refused %q", err, "Application not found")
	}

	a.post(t, "app/add", fmt.Sprintf(`{"appKey":%q,"name":"REST test","url":"","methods":[],"restUsername":"u","restPassword":%q}`, key, password)).
		want(t, http.StatusOK, "app/add")
	a.post(t, "app/add", fmt.Sprintf(`{"appKey":%q,"url":""}`, key)).wantError(t, http.StatusConflict, "app/add again")
	findApp := func(api *restAPI) rest.App {
		t.Helper()
		var app rest.App
		testwait.UntilOK(t, stepTimeout, "app/find "+key+" on "+api.base, func() error {
			res := api.post(t, "app/find", fmt.Sprintf(`{"appKey":%q}`, key))
			if res.code != http.StatusOK {
				return fmt.Errorf("HTTP %d %s", res.code, res.body)
			}
			if bytes.Contains(res.body, []byte(password)) {
				t.Errorf("app/find shows the restPassword: %s", res.body)
			}
			return json.Unmarshal(res.body, &app)
		})
		return app
	}
	if app := findApp(b); app.Key != key || app.Name != "REST test" || app.RestUsername != "u" || app.RestPassword != "" || len(app.Methods) != 0 {
		t.Errorf("app/find on node B: %+v", app)
	}
	sess := connectWith(t, nodeB, wasmclient.SessionOptions{AppKey: key})
	checkConnections(t, "connection/find of the new app",
		a.post(t, "connection/find", fmt.Sprintf(`{"appKey":%q}`, key)).want(t, http.StatusOK, "connection/find").objects(t),
		ownedSession{sess, c.Signals[1].NodeID(), key})
	if all := a.get(t, "app/find_all").want(t, http.StatusOK, "app/find_all").body; bytes.Contains(all, []byte(password)) {
		t.Errorf("app/find_all shows the restPassword: %s", all)
	}

	t.Run("Methods", func(t *testing.T) {
		methods := func() []string {
			t.Helper()
			res := a.post(t, "app/find", fmt.Sprintf(`{"appKey":%q}`, key)).want(t, http.StatusOK, "app/find")
			var app rest.App
			if err := json.Unmarshal(res.body, &app); err != nil {
				t.Fatal(err)
			}
			if app.Name != "REST test" || app.RestUsername != "u" {
				t.Errorf("a method change changed the app: %+v", app)
			}
			return slices.Sorted(slices.Values(app.Methods))
		}
		a.post(t, "app/method/add", fmt.Sprintf(`{"appKey":%q,"methods":["connect","ConnectionStatusEvent"]}`, key)).
			want(t, http.StatusOK, "app/method/add")
		if got := methods(); !reflect.DeepEqual(got, []string{"ConnectionStatusEvent", "connect"}) {
			t.Errorf("methods after app/method/add: %q", got)
		}
		a.post(t, "app/method/add", fmt.Sprintf(`{"appKey":%q,"methods":["connect"]}`, key)).
			want(t, http.StatusOK, "app/method/add of a method it has")
		a.post(t, "app/method/remove", fmt.Sprintf(`{"appKey":%q,"methods":["connect"]}`, key)).
			want(t, http.StatusOK, "app/method/remove")
		if got := methods(); !reflect.DeepEqual(got, []string{"ConnectionStatusEvent"}) {
			t.Errorf("methods after app/method/remove: %q", got)
		}
		a.post(t, "app/method/remove", fmt.Sprintf(`{"appKey":%q,"all":"true"}`, key)).
			want(t, http.StatusOK, "app/method/remove all")
		if got := methods(); len(got) != 0 {
			t.Errorf("methods after app/method/remove all: %q", got)
		}
		a.post(t, "app/method/add", fmt.Sprintf(`{"appKey":%q,"methods":["noSuchHook"]}`, key)).
			wantError(t, http.StatusBadRequest, "app/method/add of an unknown method")
		a.post(t, "app/method/add", fmt.Sprintf(`{"appKey":%q}`, key)).
			wantError(t, http.StatusBadRequest, "app/method/add without methods")
		a.post(t, "app/method/add", `{"appKey":"noSuchApp","methods":["connect"]}`).
			wantError(t, http.StatusNotFound, "app/method/add to an unknown app")
	})

	a.post(t, "app/remove", fmt.Sprintf(`{"appKey":%q}`, key)).want(t, http.StatusOK, "app/remove")
	for _, api := range []*restAPI{a, b} {
		testwait.UntilOK(t, stepTimeout, "app/find 404 on "+api.base, func() error {
			if res := api.post(t, "app/find", fmt.Sprintf(`{"appKey":%q}`, key)); res.code != http.StatusNotFound {
				return fmt.Errorf("HTTP %d %s", res.code, res.body)
			}
			return nil
		})
	}
	for _, tg := range []Target{nodeB, nodeA} {
		s, err := connectErr(tg, wasmclient.SessionOptions{AppKey: key})
		if err == nil {
			_ = s.Close()
			t.Errorf("%s accepted a session with the removed app %s", tg.WSURL, key)
		} else if !errors.Is(err, wasmclient.ErrRejected) || !strings.Contains(err.Error(), "Application not found") {
			t.Errorf("%s: a session with the removed app: %v, want rejected %q", tg.WSURL, err, "Application not found")
		}
	}
	t.Logf("the session connected with the app before its removal is %s", sess.Status())
	a.post(t, "app/remove", fmt.Sprintf(`{"appKey":%q}`, key)).wantError(t, http.StatusNotFound, "app/remove again")
	a.post(t, "app/find", `{}`).wantError(t, http.StatusBadRequest, "app/find without appKey")
	connect(t, nodeA) // defaultApp is still served
}

// TestRESTAuth proves production mode (§G.1) on a live cluster: with Options.REST.Auth set to the
// users of a users file, a request without credentials or with wrong ones is a 401 with a Basic
// challenge, WWW-Authenticate, on both nodes and for the statistics page too; the right ones get
// the answer; a CORS preflight passes without credentials.
func TestRESTAuth(t *testing.T) {
	const user, password = "backend", "correct horse battery staple"
	users, err := restauth.Load(filepath.Join(t.TempDir(), "rest-users.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Add(user, password); err != nil {
		t.Fatal(err)
	}
	c, api := restCluster(t, cluster.Options{Signals: 2, Mediads: 1, REST: restapi.Options{Auth: users}})
	sess := connect(t, Target{WSURL: c.WSURLs[1]})

	for i, base := range api {
		anon := *base
		wrong := *base
		wrong.user, wrong.pass = user, password+"!"
		stranger := *base
		stranger.user, stranger.pass = "stranger", password
		// Each refused check of a password costs a bcrypt comparison (slow under -race by design),
		// so the wrong credentials are tried on fewer paths.
		all := []string{"connection/find_all", "stream/find_all", "app/find_all"}
		for _, tc := range []struct {
			api    *restAPI
			who    string
			reason string
			paths  []string
		}{
			{&anon, "no credentials", "authentication required", all},
			{&wrong, "a wrong password", "invalid credentials", all[:1]},
			{&stranger, "an unknown user", "invalid credentials", all[2:]},
		} {
			for _, path := range tc.paths {
				what := fmt.Sprintf("node %d: %s with %s", i, path, tc.who)
				res := tc.api.get(t, path)
				e := res.wantError(t, http.StatusUnauthorized, what)
				if !strings.Contains(e.Reason, tc.reason) {
					t.Errorf("%s: reason %q, want %q", what, e.Reason, tc.reason)
				}
				if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
					t.Errorf("%s: WWW-Authenticate %q, want a Basic challenge", what, got)
				}
				if got := res.header.Get("Access-Control-Allow-Origin"); got != "*" {
					t.Errorf("%s: Access-Control-Allow-Origin %q on the 401, want *", what, got)
				}
			}
			if tc.api.user == "" {
				if res := tc.api.root(t, "/?action=stat"); res.code != http.StatusUnauthorized {
					t.Errorf("node %d: the statistics page with %s: HTTP %d, want 401", i, tc.who, res.code)
				}
				tc.api.post(t, "connection/terminate", fmt.Sprintf(`{"sessionId":%q}`, sess.AuthToken())).
					wantError(t, http.StatusUnauthorized, "connection/terminate with "+tc.who)
			}
		}
		base.user, base.pass = user, password
		checkConnections(t, fmt.Sprintf("node %d: connection/find_all with credentials", i),
			base.get(t, "connection/find_all").want(t, http.StatusOK, "connection/find_all with credentials").objects(t),
			ownedSession{sess, c.Signals[1].NodeID(), rest.DefaultApp})
		base.get(t, "app/find_all").want(t, http.StatusOK, "app/find_all with credentials")
		base.get(t, "stream/find_all").wantError(t, http.StatusNotFound, "stream/find_all with credentials, no stream")
		if res := base.root(t, "/?action=stat"); res.code != http.StatusOK {
			t.Errorf("node %d: the statistics page with credentials: HTTP %d %s", i, res.code, res.body)
		}

		pre := anon.preflight(t, "connection/find_all")
		if pre.code != http.StatusNoContent {
			t.Errorf("node %d: preflight without credentials: HTTP %d %s, want 204", i, pre.code, pre.body)
		}
		if got := pre.header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("node %d: preflight Access-Control-Allow-Origin %q, want *", i, got)
		}
		if got := strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
			t.Errorf("node %d: preflight Access-Control-Allow-Headers %q, want authorization among them", i, got)
		}
		if got := pre.header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("node %d: preflight Access-Control-Allow-Methods %q, want POST among them", i, got)
		}
	}
	// Nothing refused ran: the session is still there.
	if st := sess.Status(); st != wasmclient.SessionEstablished {
		t.Errorf("the session is %s after the refused terminates, want %s", st, wasmclient.SessionEstablished)
	}
}

// latencySessions and latencyCalls size TestRESTLatency.
const (
	latencySessions = 200
	latencyCalls    = 50
)

// TestRESTLatency measures, and does not assert on time, how long connection/find_all and
// stream/find_all take with 200 sessions spread over two signal nodes (four of them with media):
// each call asks both nodes over NATS and every session on its own goroutine (§G). The answers
// must still be complete.
func TestRESTLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("connects 200 sessions")
	}
	c, api := restCluster(t, cluster.Options{Signals: 2, Mediads: 1})
	a := api[0]
	start := time.Now()
	sessions := restConnectMany(t, c.WSURLs, latencySessions-4)
	nodeA, nodeB := Target{WSURL: c.WSURLs[0]}, Target{WSURL: c.WSURLs[1]}
	nameA, nameB := streamName("lat-a"), streamName("lat-b")
	publishSynthetic(t, connect(t, nodeA), nameA, wcs.StatusPublishing)
	publishSynthetic(t, connect(t, nodeB), nameB, wcs.StatusPublishing)
	play(t, connect(t, nodeB), wasmclient.PlayOptions{Name: nameA}, wcs.StatusPlaying)
	play(t, connect(t, nodeA), wasmclient.PlayOptions{Name: nameB}, wcs.StatusPlaying)
	t.Logf("%d sessions connected and 4 streams running in %v", len(sessions)+4, time.Since(start).Round(time.Millisecond))

	for _, tc := range []struct {
		path string
		want int
	}{
		{"connection/find_all", latencySessions},
		{"stream/find_all", 4},
	} {
		took := make([]time.Duration, 0, latencyCalls)
		size := 0
		for range latencyCalls {
			t0 := time.Now()
			res := a.get(t, tc.path)
			took = append(took, time.Since(t0))
			res.want(t, http.StatusOK, tc.path)
			size = len(res.body)
			if n := len(res.objects(t)); n != tc.want {
				t.Fatalf("%s: %d entries, want %d", tc.path, n, tc.want)
			}
		}
		slices.Sort(took)
		t.Logf("MEASURED REST %s with %d sessions on 2 signal nodes: p50 %v, p95 %v, max %v over %d calls, %d bytes each (%s)",
			tc.path, latencySessions, restPct(took, 50), restPct(took, 95), took[len(took)-1].Round(time.Microsecond), latencyCalls,
			size, buildFlavour())
	}
}

// --- helpers ---

// restCluster starts a cluster for one test with a REST client per signal node. When the test
// ends, after its sessions have closed, no media peer connection may be left; then the cluster
// is closed and no goroutine of it, or of the REST clients, may be left.
func restCluster(t *testing.T, o cluster.Options) (*cluster.Cluster, []*restAPI) {
	t.Helper()
	base := runtime.NumGoroutine()
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: tr, Timeout: restTimeout}
	var c *cluster.Cluster
	t.Cleanup(func() { // runs last: after the cluster's own cleanup has closed it
		tr.CloseIdleConnections()
		if c != nil {
			c.Close()
			waitGoroutines(t, base)
		}
	})
	c = cluster.Start(t, o)
	t.Cleanup(func() { // runs once every session of the test has closed
		tr.CloseIdleConnections()
		waitPeerConnections(t, Target{PeerConnections: func(*testing.T) int { return c.PeerConnections() }}, 0)
	})
	apis := make([]*restAPI, len(c.RESTURLs))
	for i, u := range c.RESTURLs {
		apis[i] = &restAPI{base: u, client: client}
	}
	return c, apis
}

// restAPI is one signal node's REST API as a backend calls it.
type restAPI struct {
	base       string
	user, pass string // HTTP Basic when user is set
	client     *http.Client
}

// restResult is one HTTP answer.
type restResult struct {
	what   string // method and URL, for messages
	code   int
	header http.Header
	body   []byte
}

// restError is the JSON body of every error (§G.1).
type restError struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
}

// get sends GET without a body, as the WebSDK's REST helper does for parameter-less calls.
func (a *restAPI) get(t *testing.T, path string) restResult {
	t.Helper()
	return a.do(t, http.MethodGet, path, nil)
}

// post sends body as JSON: a string or []byte as it is, nil as no body, anything else marshalled.
func (a *restAPI) post(t *testing.T, path string, body any) restResult {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return a.do(t, http.MethodPost, path, b)
}

// do sends one request under restapi.Prefix.
func (a *restAPI) do(t *testing.T, method, path string, body []byte) restResult {
	t.Helper()
	return a.request(t, method, a.base+restapi.Prefix+path, body, nil)
}

// root sends GET to a path of the HTTP port outside the API (the statistics page).
func (a *restAPI) root(t *testing.T, path string) restResult {
	t.Helper()
	return a.request(t, http.MethodGet, a.base+path, nil, nil)
}

// preflight sends a browser's CORS preflight: OPTIONS, never with credentials.
func (a *restAPI) preflight(t *testing.T, path string) restResult {
	t.Helper()
	anon := *a
	anon.user = ""
	return anon.request(t, http.MethodOptions, a.base+restapi.Prefix+path, nil, http.Header{
		"Origin":                         {"http://app.example.org"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type,authorization"},
	})
}

func (a *restAPI) request(t *testing.T, method, url string, body []byte, hdr http.Header) restResult {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), restTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.user != "" {
		req.SetBasicAuth(a.user, a.pass)
	}
	what := method + " " + url
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read the answer: %v", what, err)
	}
	return restResult{what: what, code: resp.StatusCode, header: resp.Header, body: b}
}

// want fails the test unless the answer has status code.
func (r restResult) want(t *testing.T, code int, what string) restResult {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s (%s): HTTP %d %s, want %d", what, r.what, r.code, r.body, code)
	}
	return r
}

// wantError checks an error answer: status code, a JSON body {status, reason} with the same
// status and a reason (§G.1).
func (r restResult) wantError(t *testing.T, code int, what string) restError {
	t.Helper()
	var e restError
	switch {
	case r.code != code:
		t.Errorf("%s (%s): HTTP %d %s, want %d", what, r.what, r.code, r.body, code)
	case !strings.HasPrefix(r.header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: error answer of type %q, want application/json: %s", what, r.header.Get("Content-Type"), r.body)
	case json.Unmarshal(r.body, &e) != nil:
		t.Errorf("%s: error body %q is not {status,reason}", what, r.body)
	case e.Status != code || e.Reason == "":
		t.Errorf("%s: error body %s, want status %d and a reason", what, r.body, code)
	}
	return e
}

func (r restResult) streams(t *testing.T) []rest.Stream {
	t.Helper()
	var out []rest.Stream
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%s: %v: %s", r.what, err, r.body)
	}
	return out
}

// streamsOrNone is the streams of a 200, none of a 404.
func (r restResult) streamsOrNone(t *testing.T) []rest.Stream {
	t.Helper()
	if r.code == http.StatusNotFound {
		return nil
	}
	return r.want(t, http.StatusOK, "stream/find").streams(t)
}

// objects decodes a JSON array of objects, each member kept raw.
func (r restResult) objects(t *testing.T) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%s: %v: %s", r.what, err, r.body)
	}
	return out
}

func (r restResult) apps(t *testing.T) []rest.App {
	t.Helper()
	var out []rest.App
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%s: %v: %s", r.what, err, r.body)
	}
	return out
}

// ownedStream is a client's stream with what the REST API should say about it (§G.3).
type ownedStream struct {
	st     *wasmclient.Stream
	s      *wasmclient.Session
	node   string
	status string
}

// checkStreams fails the test unless got is exactly want.
func checkStreams(t *testing.T, what string, got []rest.Stream, want ...ownedStream) {
	t.Helper()
	if err := sameStreams(got, want...); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// sameStreams compares the REST API's streams with the clients' own, by mediaSessionId.
func sameStreams(got []rest.Stream, want ...ownedStream) error {
	byID := map[string]rest.Stream{}
	for _, g := range got {
		byID[g.MediaSessionID] = g
	}
	var ids []string
	for _, w := range want {
		ids = append(ids, w.st.MediaSessionID())
	}
	if len(got) != len(want) || len(byID) != len(want) {
		return fmt.Errorf("%d streams %v, want %d: %v", len(got), streamIDs(got), len(want), ids)
	}
	for _, w := range want {
		g, ok := byID[w.st.MediaSessionID()]
		if !ok {
			return fmt.Errorf("%s (%s) missing from %v", w.st.MediaSessionID(), w.st.Name(), streamIDs(got))
		}
		kind := "play"
		if w.st.Published() {
			kind = "publish"
		}
		if g.NodeID != w.node || g.SessionID != w.s.AuthToken() || g.AppKey != rest.DefaultApp || g.Name != w.st.Name() ||
			g.Published != w.st.Published() || g.Status != w.status || g.MediaType != kind {
			return fmt.Errorf("stream %s: nodeId %q sessionId %q appKey %q name %q published %v status %q mediaType %q; "+
				"want %q %q %q %q %v %q %q", g.MediaSessionID, g.NodeID, g.SessionID, g.AppKey, g.Name, g.Published, g.Status,
				g.MediaType, w.node, w.s.AuthToken(), rest.DefaultApp, w.st.Name(), w.st.Published(), w.status, kind)
		}
		if !g.HasVideo || g.CreateDate == 0 {
			return fmt.Errorf("stream %s: hasVideo %v createDate %d, want video and a creation date", g.MediaSessionID, g.HasVideo, g.CreateDate)
		}
	}
	return nil
}

func streamIDs(ss []rest.Stream) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.MediaSessionID+"("+s.Name+" "+s.Status+")")
	}
	return out
}

// ownedSession is a client's session with what the REST API should say about it (§G.3).
type ownedSession struct {
	s      *wasmclient.Session
	node   string
	appKey string
}

// checkConnections fails the test unless got is exactly want, each with the §G.3 fields and the
// connection fields the client sent.
func checkConnections(t *testing.T, what string, got []map[string]json.RawMessage, want ...ownedSession) {
	t.Helper()
	byID := map[string]map[string]json.RawMessage{}
	var ids []string
	for _, g := range got {
		var id string
		_ = json.Unmarshal(g["sessionId"], &id)
		byID[id] = g
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(got) != len(want) || len(byID) != len(want) {
		t.Errorf("%s: %d connections %v, want %d", what, len(got), ids, len(want))
		return
	}
	for _, w := range want {
		g, ok := byID[w.s.AuthToken()]
		if !ok {
			t.Errorf("%s: session %s missing from %v", what, w.s.AuthToken(), ids)
			continue
		}
		for field, v := range map[string]string{
			"nodeId": w.node, "sessionId": w.s.AuthToken(), "appKey": w.appKey, "status": wcs.SessionEstablished,
			"authToken": w.s.AuthToken(), "clientVersion": "2.0", "clientBrowserVersion": "potok-wasmclient",
		} {
			if string(g[field]) != jsonString(v) {
				t.Errorf("%s: session %s: %s %s, want %q", what, w.s.AuthToken(), field, g[field], v)
			}
		}
		if _, ok := g["origin"]; !ok {
			t.Errorf("%s: session %s has no origin", what, w.s.AuthToken())
		}
	}
}

// connectWith connects with options, closed when the test ends.
func connectWith(t *testing.T, tg Target, o wasmclient.SessionOptions) *wasmclient.Session {
	t.Helper()
	s, err := connectErr(tg, o)
	if err != nil {
		t.Fatalf("connect %s %+v: %v", tg.WSURL, o, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// connectErr is one connection attempt; the caller closes a session it gets.
func connectErr(tg Target, o wasmclient.SessionOptions) (*wasmclient.Session, error) {
	c, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	return wasmclient.Connect(c, tg.WSURL, o)
}

// restConnectMany connects n signalling-only sessions, round robin over urls, 16 at a time; they are
// closed when the test ends.
func restConnectMany(t *testing.T, urls []string, n int) []*wasmclient.Session {
	t.Helper()
	out := make([]*wasmclient.Session, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = connectErr(Target{WSURL: urls[i%len(urls)]}, wasmclient.SessionOptions{})
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Cleanup(func() {
		var cw sync.WaitGroup
		for _, s := range out {
			if s != nil {
				cw.Go(func() { _ = s.Close() })
			}
		}
		cw.Wait()
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("connecting %d sessions: %v", n, err)
	}
	return out
}

// restPct is the p-th percentile of sorted durations.
func restPct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))].Round(time.Microsecond)
}

// buildFlavour says whether the race detector was on, which the measured times depend on.
func buildFlavour() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return "-race"
			}
		}
	}
	return "no -race"
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
