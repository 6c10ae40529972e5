package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/mediactl"
)

// Apps is the cluster's application registry (signal/apps).
type Apps interface {
	List() []rest.App
	Get(key string) (rest.App, bool)
	Add(ctx context.Context, a rest.App) error
	Update(ctx context.Context, key string, change func(*rest.App) error) error
	Remove(ctx context.Context, key string) error
}

// Media is what the REST API needs of the media tier: a stream's publisher and a fan-out at its
// media daemon (/stream/event/send), the relays (/cdn/*), the pulls (/pull/*).
type Media interface {
	LookupStream(ctx context.Context, name string) (control.StreamRecord, error)
	StreamEvent(ctx context.Context, node string, req control.StreamEventRequest) error
	Routes(ctx context.Context) []control.Route
	// Pulls of streams from other servers (/pull/*): pull.go.
	Pull(ctx context.Context, uri, remoteName, localName string) error
	Pulls(ctx context.Context) []control.Pull
	TerminatePull(ctx context.Context, localName string) error
	// SetLogLevel sets the log level of every media daemon, or of node alone (logging.go).
	SetLogLevel(ctx context.Context, level, node string) []control.LogLevelReply
}

// Routes lists every relay of the cluster, by stream then edge.
func (b *Backend) Routes(ctx context.Context) ([]rest.Route, error) {
	out := []rest.Route{}
	for _, r := range b.media.Routes(ctx) {
		out = append(out, rest.Route{StreamName: r.Stream, Origin: r.Origin, Edge: r.Edge, Players: r.Players})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StreamName != out[j].StreamName {
			return out[i].StreamName < out[j].StreamName
		}
		return out[i].Edge < out[j].Edge
	})
	return out, nil
}

// Backend answers the REST API (signal/restapi.Backend) for the cluster.
type Backend struct {
	*Cluster
	apps  Apps
	media Media
}

// NewBackend joins a Cluster to the app registry and the media tier.
func NewBackend(c *Cluster, apps Apps, media Media) *Backend {
	return &Backend{Cluster: c, apps: apps, media: media}
}

// FindStreams is /stream/find and /stream/find_all: every node's matching streams, oldest first.
func (b *Backend) FindStreams(ctx context.Context, f rest.StreamFilter) ([]rest.Stream, error) {
	answers, err := b.gather(ctx, control.QueryFindStreams, f)
	if err != nil {
		return nil, err
	}
	var out []rest.Stream
	each(b.Cluster, control.QueryFindStreams, answers, func(s []rest.Stream) { out = append(out, s...) })
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].CreateDate != out[j].CreateDate {
			return out[i].CreateDate < out[j].CreateDate
		}
		return out[i].MediaSessionID < out[j].MediaSessionID
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("no stream matches: %w", rest.ErrNotFound)
	}
	return out, nil
}

// TerminateStreams is /stream/terminate; none matched is a 404.
func (b *Backend) TerminateStreams(ctx context.Context, f rest.StreamFilter) (int, error) {
	answers, err := b.gather(ctx, control.QueryTerminateStreams, f)
	if err != nil {
		return 0, err
	}
	n := 0
	each(b.Cluster, control.QueryTerminateStreams, answers, func(k int) { n += k })
	if n == 0 {
		return 0, fmt.Errorf("no stream matches: %w", rest.ErrNotFound)
	}
	return n, nil
}

// SendStreamEvent is /stream/event/send: a data event fanned out to the stream's players by the
// media daemon that holds it, as if its publisher had sent it (docs/protocol.md §B.10).
func (b *Backend) SendStreamEvent(ctx context.Context, ev rest.StreamEventSend) error {
	if ev.StreamName == "" {
		return fmt.Errorf("streamName is required: %w", rest.ErrInvalid)
	}
	rec, err := b.media.LookupStream(ctx, ev.StreamName)
	if errors.Is(err, mediactl.ErrNotPublished) {
		return fmt.Errorf("stream %q is not published: %w", ev.StreamName, rest.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("look up stream %q: %w", ev.StreamName, err)
	}
	owner := control.Owner{SignalNode: rec.SignalNode, SignalStarted: rec.SignalStarted, SessionID: rec.SessionID,
		MediaSessionID: rec.MediaSessionID}
	return b.media.StreamEvent(ctx, rec.MediaNode, control.StreamEventRequest{Owner: owner, Type: wcs.EventData,
		Payload: ev.Payload})
}

// FindConnections is /connection/find and /connection/find_all.
func (b *Backend) FindConnections(ctx context.Context, f rest.ConnectionFilter) ([]rest.Connection, error) {
	answers, err := b.gather(ctx, control.QueryFindConnections, f)
	if err != nil {
		return nil, err
	}
	var out []rest.Connection
	each(b.Cluster, control.QueryFindConnections, answers, func(c []rest.Connection) { out = append(out, c...) })
	sort.SliceStable(out, func(i, j int) bool {
		return fmt.Sprint(out[i]["sessionId"]) < fmt.Sprint(out[j]["sessionId"])
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("no connection matches: %w", rest.ErrNotFound)
	}
	return out, nil
}

// TerminateConnection is /connection/terminate: the session's socket is closed as by a normal
// disconnect (docs/protocol.md §E.8).
func (b *Backend) TerminateConnection(ctx context.Context, sessionID string) error {
	return b.onSession(ctx, control.QueryTerminateConn, sessionID, rest.ConnectionFilter{SessionID: sessionID})
}

// SendData is /data/send: an OnDataEvent to one client.
func (b *Backend) SendData(ctx context.Context, d rest.DataSend) error {
	return b.onSession(ctx, control.QuerySendData, d.SessionID, d)
}

// SetClientLog is /logger/enable_client_log (level set) and /logger/disable_client_log.
func (b *Backend) SetClientLog(ctx context.Context, sessionID, level string) error {
	return b.onSession(ctx, control.QueryClientLog, sessionID, rest.ClientLog{SessionID: sessionID, LogLevel: level})
}

// onSession runs an operation on whichever node holds sessionID; none holding it is a 404.
func (b *Backend) onSession(ctx context.Context, op, sessionID string, body any) error {
	if sessionID == "" {
		return fmt.Errorf("sessionId is required: %w", rest.ErrInvalid)
	}
	answers, err := b.gather(ctx, op, body)
	if err != nil {
		return err
	}
	for _, a := range answers {
		if a.Error != "" {
			return fmt.Errorf("%s on %s: %s: %w", op, a.NodeID, a.Error, rest.ErrInvalid)
		}
	}
	done := false
	each(b.Cluster, op, answers, func(ok bool) { done = done || ok })
	if !done {
		return fmt.Errorf("no session %q: %w", sessionID, rest.ErrNotFound)
	}
	return nil
}

// Stats is the statistics page: every node's figures, numbers summed.
func (b *Backend) Stats(ctx context.Context) (map[string]map[string]any, error) {
	answers, err := b.gather(ctx, control.QueryStats, struct{}{})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	each(b.Cluster, control.QueryStats, answers, func(groups map[string]map[string]any) {
		for g, kv := range groups {
			if out[g] == nil {
				out[g] = map[string]any{}
			}
			for k, v := range kv {
				out[g][k] = merge(out[g][k], v)
			}
		}
	})
	return out, nil
}

// merge adds numbers; for anything else the first value stays.
func merge(old, v any) any {
	a, aok := old.(float64)
	n, nok := v.(float64)
	switch {
	case old == nil:
		return v
	case aok && nok:
		return a + n
	}
	return old
}

// Apps lists the applications; passwords are never handed out (docs/protocol.md §G.3).
func (b *Backend) Apps(context.Context) ([]rest.App, error) {
	if b.apps == nil {
		return nil, errNoRegistry
	}
	list := b.apps.List()
	for i := range list {
		list[i].RestPassword = ""
	}
	return list, nil
}

// App is one application, without its password.
func (b *Backend) App(_ context.Context, key string) (rest.App, error) {
	if b.apps == nil {
		return rest.App{}, errNoRegistry
	}
	a, ok := b.apps.Get(key)
	if !ok {
		return rest.App{}, fmt.Errorf("no application %q: %w", key, rest.ErrNotFound)
	}
	a.RestPassword = ""
	return a, nil
}

// AddApp, UpdateApp and RemoveApp change the registry, for every node at once.
func (b *Backend) AddApp(ctx context.Context, a rest.App) error {
	if b.apps == nil {
		return errNoRegistry
	}
	return b.apps.Add(ctx, a)
}

// UpdateApp: see AddApp.
func (b *Backend) UpdateApp(ctx context.Context, key string, change func(*rest.App) error) error {
	if b.apps == nil {
		return errNoRegistry
	}
	return b.apps.Update(ctx, key, change)
}

// RemoveApp: see AddApp.
func (b *Backend) RemoveApp(ctx context.Context, key string) error {
	if b.apps == nil {
		return errNoRegistry
	}
	return b.apps.Remove(ctx, key)
}

// errNoRegistry: this signal node runs without the application registry (a test setup).
var errNoRegistry = errors.New("this signal node has no application registry")
