package restapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/hooks"
)

func ptr[T any](v T) *T { return &v }

// Every implemented endpoint's happy path: what reaches the Backend and what the client gets.
// POST with a body and GET without one are the two forms the WebSDK's REST helper sends.
func TestEndpointsPassRequestsToTheBackend(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		want                     call   // the Backend call
		answer                   string // the body expected; "" = empty (void)
	}{
		{"find_all by GET", "GET", "/stream/find_all", "", call{"FindStreams", rest.StreamFilter{}}, "stream1"},
		{"find_all by POST", "POST", "/stream/find_all", "{}", call{"FindStreams", rest.StreamFilter{}}, "stream1"},
		{"find with filters", "POST", "/stream/find",
			`{"name":"stream1","mediaSessionId":"m1","mediaSessionIds":["m1","m2"],"status":"PUBLISHING",` +
				`"published":true,"sessionId":"s1","display":["metrics"],"unknownField":{"x":1}}`,
			call{"FindStreams", rest.StreamFilter{Name: "stream1", MediaSessionID: "m1", MediaSessionIDs: []string{"m1", "m2"},
				Status: "PUBLISHING", Published: ptr(true), SessionID: "s1", Display: []string{"metrics"}}}, "stream1"},
		{"find with string boolean", "POST", "/stream/find", `{"published":"false"}`,
			call{"FindStreams", rest.StreamFilter{Published: ptr(false)}}, "stream1"},
		{"find with nulls", "POST", "/stream/find", `{"name":null,"published":null}`,
			call{"FindStreams", rest.StreamFilter{}}, "stream1"},
		{"find by GET without body matches all", "GET", "/stream/find", "", call{"FindStreams", rest.StreamFilter{}}, "stream1"},
		{"terminate", "POST", "/stream/terminate", `{"mediaSessionId":"m1","display":["metrics"]}`,
			call{"TerminateStreams", rest.StreamFilter{MediaSessionID: "m1"}}, ""},
		{"terminate all", "POST", "/stream/terminate", `{}`, call{"TerminateStreams", rest.StreamFilter{}}, ""},
		{"stream event", "POST", "/stream/event/send", `{"streamName":"stream1","payload":{"a":[1,2]}}`,
			call{"SendStreamEvent", rest.StreamEventSend{StreamName: "stream1", Payload: json.RawMessage(`{"a":[1,2]}`)}}, ""},
		{"connection find_all", "GET", "/connection/find_all", "", call{"FindConnections", rest.ConnectionFilter{}}, `"s1"`},
		{"connection find", "POST", "/connection/find", `{"clientVersion":"2.0.276","appKey":"defaultApp","sessionId":"s1"}`,
			call{"FindConnections", rest.ConnectionFilter{AppKey: "defaultApp", SessionID: "s1", ClientVersion: "2.0.276"}}, `"s1"`},
		{"connection terminate", "POST", "/connection/terminate", `{"sessionId":"s1"}`, call{"TerminateConnection", "s1"}, ""},
		{"set log level", "POST", "/connection/set_log_level", `{"sessionId":"s1","logLevel":"DEBUG"}`,
			call{"SetClientLog", [2]string{"s1", "DEBUG"}}, ""},
		{"enable client log", "POST", "/logger/enable_client_log", `{"sessionId":"s1","logLevel":"TRACE"}`,
			call{"SetClientLog", [2]string{"s1", "TRACE"}}, ""},
		{"enable client log, default level", "POST", "/logger/enable_client_log", `{"sessionId":"s1"}`,
			call{"SetClientLog", [2]string{"s1", "INFO"}}, ""},
		{"disable client log", "POST", "/logger/disable_client_log", `{"sessionId":"s1"}`, call{"SetClientLog", [2]string{"s1", ""}}, ""},
		{"node log level", "POST", "/logger/set_node_log_level", `{"logLevel":"DEBUG","nodeId":"n1"}`,
			call{"SetNodeLogLevel", rest.NodeLogRequest{LogLevel: "DEBUG", NodeID: "n1"}}, `"logLevel":"debug"`},
		{"call find_all", "GET", "/call/find_all", "", call{"FindCalls", rest.CallFilter{}}, `"callId":"c1"`},
		{"call find", "POST", "/call/find", `{"callee":"1001","status":"ESTABLISHED"}`,
			call{"FindCalls", rest.CallFilter{Callee: "1001", Status: "ESTABLISHED"}}, `"status":"ESTABLISHED"`},
		{"call terminate", "POST", "/call/terminate", `{"callId":"c1"}`, call{"TerminateCall", "c1"}, ""},
		{"call send_dtmf, a number", "POST", "/call/send_dtmf", `{"callId":"c1","dtmf":5,"type":"INFO"}`,
			call{"SendCallDTMF", rest.CallDTMF{CallID: "c1", DTMF: "5", Type: "INFO"}}, ""},
		{"data send", "POST", "/data/send", `{"nodeId":"n1","sessionId":"s1","operationId":"op","payload":"hi"}`,
			call{"SendData", rest.DataSend{NodeID: "n1", SessionID: "s1", OperationID: "op", Payload: json.RawMessage(`"hi"`)}}, ""},
		{"app find_all", "GET", "/app/find_all", "", call{"Apps", nil}, `"defaultApp"`},
		{"app find", "POST", "/app/find", `{"appKey":"defaultApp"}`, call{"App", "defaultApp"}, `"appKey":"defaultApp"`},
		{"app add", "POST", "/app/add",
			`{"appKey":"a1","name":"A","url":"http://backend/","methods":["connect"],"restUsername":"u","restPassword":"p",` +
				`"defaults":{"connect":{"restOnError":"FAIL"}}}`,
			call{"AddApp", rest.App{Key: "a1", Name: "A", URL: "http://backend/", Methods: []string{"connect"}, RestUsername: "u",
				RestPassword: "p", Defaults: map[string]rest.MethodConfig{"connect": {RestOnError: "FAIL"}}}}, ""},
		{"app update", "POST", "/app/update", `{"appKey":"defaultApp","url":"http://x/"}`, call{"UpdateApp", "defaultApp"}, ""},
		{"app remove", "POST", "/app/remove", `{"appKey":"defaultApp"}`, call{"RemoveApp", "defaultApp"}, ""},
		{"app method add", "POST", "/app/method/add", `{"appKey":"defaultApp","methods":["publishStream"]}`, call{"UpdateApp", "defaultApp"}, ""},
		{"app method remove", "POST", "/app/method/remove", `{"appKey":"defaultApp","methods":"connect"}`, call{"UpdateApp", "defaultApp"}, ""},
		{"pull", "POST", "/pull/pull", `{"uri":"ws://wcs:8080","remoteStreamName":"r","localStreamName":"l"}`,
			call{"Pull", rest.PullAgent{URI: "ws://wcs:8080", RemoteStreamName: "r", LocalStreamName: "l"}}, ""},
		{"pull find_all", "GET", "/pull/find_all", "", call{"Pulls", nil}, `"localStreamName":"l"`},
		{"pull terminate", "POST", "/pull/terminate",
			`{"uri":"ws://wcs:8080","localMediaSessionId":"m","remoteMediaSessionId":"rm","localStreamName":"l","remoteStreamName":"r","status":"PLAYING"}`,
			call{"TerminatePull", rest.PullAgent{URI: "ws://wcs:8080", LocalMediaSessionID: "m", RemoteMediaSessionID: "rm",
				LocalStreamName: "l", RemoteStreamName: "r", Status: "PLAYING"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend()
			a := do(t, newMux(t, Options{Backend: b}), c.method, Prefix+c.path[1:], c.body)
			if a.code != http.StatusOK {
				t.Fatalf("got %d %s, want 200", a.code, a.body)
			}
			if got := b.recorded(); len(got) != 1 || !reflect.DeepEqual(got[0], c.want) {
				t.Fatalf("backend calls %#v, want %#v", got, c.want)
			}
			switch {
			case c.answer == "" && len(a.body) != 0:
				t.Errorf("void answer has a body %q", a.body)
			case c.answer != "" && !strings.Contains(string(a.body), c.answer):
				t.Errorf("answer %s lacks %s", a.body, c.answer)
			case c.answer != "" && !json.Valid(a.body):
				t.Errorf("answer %s is not JSON", a.body)
			}
		})
	}
}

func TestStreamFindAnswersTheBackendsStreams(t *testing.T) {
	b := newFakeBackend()
	b.streams[0].Metrics = map[string]int64{rest.MetricVideoFPS: 24}
	a := do(t, newMux(t, Options{Backend: b}), "POST", "/rest-api/stream/find", `{"display":["metrics"]}`)
	var got []rest.Stream
	if err := json.Unmarshal(a.body, &got); err != nil || len(got) != 1 {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	if got[0].Name != "stream1" || got[0].Metrics[rest.MetricVideoFPS] != 24 {
		t.Errorf("got %+v", got[0])
	}
}

func TestAppUpdateReplacesTheWholeApp(t *testing.T) {
	b := newFakeBackend()
	b.apps["a1"] = rest.App{Key: "a1", Name: "old", URL: "http://old/", Methods: []string{"connect"}, RestPassword: "p"}
	a := do(t, newMux(t, Options{Backend: b}), "POST", "/rest-api/app/update", `{"appKey":"a1","url":"http://new/"}`)
	if a.code != http.StatusOK {
		t.Fatalf("got %d %s", a.code, a.body)
	}
	if got, want := b.app("a1"), (rest.App{Key: "a1", URL: "http://new/"}); !reflect.DeepEqual(got, want) {
		t.Errorf("app %+v, want %+v", got, want)
	}
}

func TestAppMethodsAddAndRemove(t *testing.T) {
	cases := []struct {
		name, path, body string
		before, want     []string
	}{
		{"add new, keep existing, no duplicates", "/app/method/add", `{"appKey":"a1","methods":["connect","playStream"]}`,
			[]string{"connect"}, []string{"connect", "playStream"}},
		{"add all", "/app/method/add", `{"appKey":"a1","all":"true"}`, nil, hooks.AllMethods()},
		{"alias normalised", "/app/method/add", `{"appKey":"a1","methods":["sendDtmf"]}`, nil, []string{"sendDTMF"}},
		{"remove some", "/app/method/remove", `{"appKey":"a1","methods":["connect","unknown"]}`,
			[]string{"connect", "playStream"}, []string{"playStream"}},
		{"remove all", "/app/method/remove", `{"appKey":"a1","all":true}`, []string{"connect"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend()
			before := slices.Clone(c.before)
			b.apps["a1"] = rest.App{Key: "a1", Methods: before}
			a := do(t, newMux(t, Options{Backend: b}), "POST", "/rest-api"+c.path, c.body)
			if a.code != http.StatusOK {
				t.Fatalf("got %d %s", a.code, a.body)
			}
			if got := b.app("a1").Methods; !slices.Equal(got, c.want) || got == nil {
				t.Errorf("methods %q, want %q", got, c.want)
			}
			if !slices.Equal(before, c.before) {
				t.Errorf("the change modified the backend's slice in place: %q", before)
			}
		})
	}
}

// Empty finds and terminates that match nothing are 404 for streams and connections, as on WCS;
// an empty app list is 200 [].
func TestEmptyResults(t *testing.T) {
	b := newFakeBackend()
	b.streams, b.conns, b.apps, b.terminated = nil, nil, map[string]rest.App{}, 0
	mux := newMux(t, Options{Backend: b})
	for _, path := range []string{"stream/find_all", "stream/find", "stream/terminate", "connection/find_all", "connection/find"} {
		a := do(t, mux, "GET", Prefix+path, "")
		if a.code != http.StatusNotFound {
			t.Errorf("%s: got %d %s, want 404", path, a.code, a.body)
			continue
		}
		errorOf(t, a)
	}
	if a := do(t, mux, "GET", "/rest-api/app/find_all", ""); a.code != 200 || string(a.body) != "[]" {
		t.Errorf("app/find_all: got %d %s, want 200 []", a.code, a.body)
	}
	b.pulls = nil
	if a := do(t, mux, "GET", "/rest-api/pull/find_all", ""); a.code != 200 || string(a.body) != "[]" {
		t.Errorf("pull/find_all: got %d %s, want 200 []", a.code, a.body)
	}
}

// The Backend's sentinel errors map to status codes, with the error's text as the reason.
func TestBackendErrorsMapToStatusCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("session s1: %w", rest.ErrNotFound), 404},
		{fmt.Errorf("app a1: %w", rest.ErrConflict), 409},
		{fmt.Errorf("%w: bad url", rest.ErrInvalid), 400},
		{errors.New("nats: timeout"), 500},
	}
	for _, c := range cases {
		b := newFakeBackend()
		b.err = c.err
		mux := newMux(t, Options{Backend: b})
		for _, rt := range routes {
			if rt.serve == nil || rt.static {
				continue
			}
			a := do(t, mux, "POST", Prefix+rt.path[1:], validBody(rt.path))
			if a.code != c.code {
				t.Errorf("%s with %v: got %d %s, want %d", rt.path, c.err, a.code, a.body, c.code)
				continue
			}
			if reason := errorOf(t, a); reason != c.err.Error() {
				t.Errorf("%s: reason %q, want %q", rt.path, reason, c.err.Error())
			}
		}
	}
}

// validBody is a body every decoder of path accepts.
func validBody(path string) string {
	switch {
	case strings.HasPrefix(path, "/app/method/"):
		return `{"appKey":"a1","all":true}`
	case strings.HasPrefix(path, "/app/"):
		return `{"appKey":"a1"}`
	case path == "/stream/event/send", path == "/cdn/stream/show_routes":
		return `{"streamName":"s"}`
	case path == "/call/send_dtmf":
		return `{"callId":"c1","dtmf":"1"}`
	case strings.HasPrefix(path, "/call/"):
		return `{"callId":"c1"}`
	case path == "/logger/set_node_log_level":
		return `{"logLevel":"DEBUG"}`
	case strings.HasPrefix(path, "/pull/"):
		return `{"uri":"ws://wcs:8080","remoteStreamName":"r","localStreamName":"l"}`
	}
	return `{"sessionId":"s1"}`
}
