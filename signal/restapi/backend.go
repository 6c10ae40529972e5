package restapi

import (
	"context"

	"github.com/potok-media/potok/api/rest"
)

// Backend is what the REST API asks of the cluster. The signal node implements it by asking every
// signal node over NATS (scatter-gather, bounded in time), so any node answers for all. Errors
// wrapping rest.ErrNotFound, rest.ErrConflict or rest.ErrInvalid become 404, 409 and 400; any
// other error is a 500 with its text.
type Backend interface {
	FindStreams(ctx context.Context, f rest.StreamFilter) ([]rest.Stream, error)
	// TerminateStreams stops every stream f matches ("Stopped by rest /terminate") and returns
	// how many.
	TerminateStreams(ctx context.Context, f rest.StreamFilter) (int, error)
	SendStreamEvent(ctx context.Context, ev rest.StreamEventSend) error
	FindConnections(ctx context.Context, f rest.ConnectionFilter) ([]rest.Connection, error)
	TerminateConnection(ctx context.Context, sessionID string) error
	SendData(ctx context.Context, d rest.DataSend) error
	// SetClientLog turns the client's log pushing on (level) or off (level "").
	SetClientLog(ctx context.Context, sessionID, level string) error
	// SetNodeLogLevel sets the log level of every node, or of req.NodeID alone, and answers each
	// node's level now.
	SetNodeLogLevel(ctx context.Context, req rest.NodeLogRequest) ([]rest.NodeLogLevel, error)

	// FindCalls lists the SIP calls f matches (none: rest.ErrNotFound); TerminateCall hangs one
	// up, SendCallDTMF sends a DTMF symbol on one (no such call: rest.ErrNotFound).
	FindCalls(ctx context.Context, f rest.CallFilter) ([]rest.Call, error)
	TerminateCall(ctx context.Context, callID string) error
	SendCallDTMF(ctx context.Context, d rest.CallDTMF) error

	Apps(ctx context.Context) ([]rest.App, error)
	App(ctx context.Context, key string) (rest.App, error)
	AddApp(ctx context.Context, a rest.App) error
	// UpdateApp changes an existing app through change, atomically (a concurrent change on
	// another node makes change run again on the new value).
	UpdateApp(ctx context.Context, key string, change func(*rest.App) error) error
	RemoveApp(ctx context.Context, key string) error

	// Routes are the relays between media daemons, every one of the cluster (/cdn/show_routes).
	Routes(ctx context.Context) ([]rest.Route, error)

	// Pull starts pulling a stream from another server (/pull/pull); the local name in use is
	// rest.ErrConflict. Pulls lists every pull of the cluster, TerminatePull stops one (named by
	// LocalStreamName or LocalMediaSessionID).
	Pull(ctx context.Context, a rest.PullAgent) error
	Pulls(ctx context.Context) ([]rest.PullAgent, error)
	TerminatePull(ctx context.Context, a rest.PullAgent) error

	// Stats is the figures of GET /?action=stat, grouped: group → key → value, WCS key names.
	Stats(ctx context.Context) (map[string]map[string]any, error)
}
