package restapi

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/potok-media/potok/api/rest"
)

// call is one Backend call the fake recorded: the method and its argument.
type call struct {
	method string
	arg    any
}

// fakeBackend records every call and answers canned results; err, when set, is every method's
// answer instead.
type fakeBackend struct {
	mu         sync.Mutex
	calls      []call
	streams    []rest.Stream
	conns      []rest.Connection
	apps       map[string]rest.App
	terminated int
	stats      map[string]map[string]any
	pulls      []rest.PullAgent
	err        error
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		streams:    []rest.Stream{{Name: "stream1", MediaSessionID: "m1", Published: true, Status: "PUBLISHING"}},
		conns:      []rest.Connection{{"sessionId": "s1", "appKey": "defaultApp"}},
		apps:       map[string]rest.App{"defaultApp": {Key: "defaultApp", Methods: []string{"connect"}}},
		terminated: 1,
		pulls: []rest.PullAgent{{URI: "ws://wcs:8080", LocalMediaSessionID: "m", RemoteMediaSessionID: "rm",
			LocalStreamName: "l", RemoteStreamName: "r", Status: "PLAYING"}},
		stats: map[string]map[string]any{
			"connection": {"connections": 2, "connections_websocket": 2},
			"streams":    {"streams_published": 1, "streams_rate": 1.5e6},
		},
	}
}

func (f *fakeBackend) record(method string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method, arg})
	return f.err
}

// recorded returns the calls so far.
func (f *fakeBackend) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeBackend) FindStreams(_ context.Context, fl rest.StreamFilter) ([]rest.Stream, error) {
	if err := f.record("FindStreams", fl); err != nil {
		return nil, err
	}
	return f.streams, nil
}

func (f *fakeBackend) TerminateStreams(_ context.Context, fl rest.StreamFilter) (int, error) {
	if err := f.record("TerminateStreams", fl); err != nil {
		return 0, err
	}
	return f.terminated, nil
}

func (f *fakeBackend) SendStreamEvent(_ context.Context, ev rest.StreamEventSend) error {
	return f.record("SendStreamEvent", ev)
}

func (f *fakeBackend) FindConnections(_ context.Context, fl rest.ConnectionFilter) ([]rest.Connection, error) {
	if err := f.record("FindConnections", fl); err != nil {
		return nil, err
	}
	return f.conns, nil
}

func (f *fakeBackend) TerminateConnection(_ context.Context, id string) error {
	return f.record("TerminateConnection", id)
}

func (f *fakeBackend) SendData(_ context.Context, d rest.DataSend) error {
	return f.record("SendData", d)
}

func (f *fakeBackend) SetClientLog(_ context.Context, id, level string) error {
	return f.record("SetClientLog", [2]string{id, level})
}

func (f *fakeBackend) SetNodeLogLevel(_ context.Context, req rest.NodeLogRequest) ([]rest.NodeLogLevel, error) {
	if err := f.record("SetNodeLogLevel", req); err != nil {
		return nil, err
	}
	return []rest.NodeLogLevel{{NodeID: "n1", Tier: "signal", LogLevel: strings.ToLower(req.LogLevel)}}, nil
}

func (f *fakeBackend) FindCalls(_ context.Context, cf rest.CallFilter) ([]rest.Call, error) {
	if err := f.record("FindCalls", cf); err != nil {
		return nil, err
	}
	return []rest.Call{{CallID: "c1", Status: "ESTABLISHED"}}, nil
}

func (f *fakeBackend) TerminateCall(_ context.Context, id string) error {
	return f.record("TerminateCall", id)
}

func (f *fakeBackend) SendCallDTMF(_ context.Context, d rest.CallDTMF) error {
	return f.record("SendCallDTMF", d)
}

func (f *fakeBackend) Apps(context.Context) ([]rest.App, error) {
	if err := f.record("Apps", nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []rest.App
	for _, a := range f.apps {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeBackend) App(_ context.Context, key string) (rest.App, error) {
	if err := f.record("App", key); err != nil {
		return rest.App{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[key]
	if !ok {
		return rest.App{}, fmt.Errorf("app %q: %w", key, rest.ErrNotFound)
	}
	return a, nil
}

func (f *fakeBackend) AddApp(_ context.Context, a rest.App) error {
	if err := f.record("AddApp", a); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[a.Key]; ok {
		return fmt.Errorf("app %q: %w", a.Key, rest.ErrConflict)
	}
	f.apps[a.Key] = a
	return nil
}

func (f *fakeBackend) UpdateApp(_ context.Context, key string, change func(*rest.App) error) error {
	if err := f.record("UpdateApp", key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[key]
	if !ok {
		return fmt.Errorf("app %q: %w", key, rest.ErrNotFound)
	}
	if err := change(&a); err != nil {
		return err
	}
	f.apps[key] = a
	return nil
}

func (f *fakeBackend) RemoveApp(_ context.Context, key string) error {
	if err := f.record("RemoveApp", key); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[key]; !ok {
		return fmt.Errorf("app %q: %w", key, rest.ErrNotFound)
	}
	delete(f.apps, key)
	return nil
}

func (f *fakeBackend) Routes(context.Context) ([]rest.Route, error) {
	if err := f.record("Routes", nil); err != nil {
		return nil, err
	}
	return []rest.Route{{StreamName: "stream1", Origin: "md-a", Edge: "md-b", Players: 3},
		{StreamName: "stream2", Origin: "md-a", Edge: "md-b", Players: 1}}, nil
}

func (f *fakeBackend) Pull(_ context.Context, a rest.PullAgent) error {
	return f.record("Pull", a)
}

func (f *fakeBackend) Pulls(context.Context) ([]rest.PullAgent, error) {
	if err := f.record("Pulls", nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pulls == nil {
		return []rest.PullAgent{}, nil
	}
	return f.pulls, nil
}

func (f *fakeBackend) TerminatePull(_ context.Context, a rest.PullAgent) error {
	return f.record("TerminatePull", a)
}

func (f *fakeBackend) Stats(context.Context) (map[string]map[string]any, error) {
	if err := f.record("Stats", nil); err != nil {
		return nil, err
	}
	return f.stats, nil
}

// app returns the fake's copy of an app.
func (f *fakeBackend) app(key string) rest.App {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apps[key]
}
