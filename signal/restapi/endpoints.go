package restapi

import (
	"context"

	"github.com/potok-media/potok/api/rest"
)

// Stream, connection, data and logging endpoints (docs/protocol.md §G). A find that matches
// nothing is a 404, not an empty list: WCS answers so for streams and connections, and backends
// written for it test the status, not the length.

func streamFindAll(ctx context.Context, b Backend, _ []byte) (any, error) {
	return findStreams(ctx, b, rest.StreamFilter{})
}

func streamFind(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := decodeStreamFilter(body)
	if err != nil {
		return nil, err
	}
	return findStreams(ctx, b, f)
}

func findStreams(ctx context.Context, b Backend, f rest.StreamFilter) (any, error) {
	streams, err := b.FindStreams(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(streams) == 0 {
		return nil, notFound("no stream matches")
	}
	return streams, nil
}

// streamTerminate stops every stream the filter matches; {} stops them all, as on WCS.
func streamTerminate(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := decodeStreamFilter(body)
	if err != nil {
		return nil, err
	}
	f.Display = nil
	n, err := b.TerminateStreams(ctx, f)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, notFound("no stream matches")
	}
	return nil, nil
}

func streamEventSend(ctx context.Context, b Backend, body []byte) (any, error) {
	ev, err := decodeStreamEvent(body)
	if err != nil {
		return nil, err
	}
	return nil, b.SendStreamEvent(ctx, ev)
}

func connectionFindAll(ctx context.Context, b Backend, _ []byte) (any, error) {
	return findConnections(ctx, b, rest.ConnectionFilter{})
}

func connectionFind(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := decodeConnectionFilter(body)
	if err != nil {
		return nil, err
	}
	return findConnections(ctx, b, f)
}

func findConnections(ctx context.Context, b Backend, f rest.ConnectionFilter) (any, error) {
	conns, err := b.FindConnections(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(conns) == 0 {
		return nil, notFound("no connection matches")
	}
	return conns, nil
}

func connectionTerminate(ctx context.Context, b Backend, body []byte) (any, error) {
	id, err := decodeSessionID(body)
	if err != nil {
		return nil, err
	}
	return nil, b.TerminateConnection(ctx, id)
}

func dataSend(ctx context.Context, b Backend, body []byte) (any, error) {
	d, err := decodeDataSend(body)
	if err != nil {
		return nil, err
	}
	return nil, b.SendData(ctx, d)
}

// setLogLevel serves /logger/enable_client_log and /connection/set_log_level: both turn the
// client's log pushing on at a level.
func setLogLevel(ctx context.Context, b Backend, body []byte) (any, error) {
	cl, err := decodeClientLog(body)
	if err != nil {
		return nil, err
	}
	return nil, b.SetClientLog(ctx, cl.SessionID, cl.LogLevel)
}

// setNodeLogLevel serves /logger/set_node_log_level: the level of whole nodes, at run time.
func setNodeLogLevel(ctx context.Context, b Backend, body []byte) (any, error) {
	req, err := decodeNodeLog(body)
	if err != nil {
		return nil, err
	}
	return b.SetNodeLogLevel(ctx, req)
}

func disableClientLog(ctx context.Context, b Backend, body []byte) (any, error) {
	id, err := decodeSessionID(body)
	if err != nil {
		return nil, err
	}
	return nil, b.SetClientLog(ctx, id, "")
}

func callFindAll(ctx context.Context, b Backend, _ []byte) (any, error) {
	return b.FindCalls(ctx, rest.CallFilter{})
}

func callFind(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := decodeCallFilter(body)
	if err != nil {
		return nil, err
	}
	return b.FindCalls(ctx, f)
}

func callTerminate(ctx context.Context, b Backend, body []byte) (any, error) {
	id, err := decodeCallID(body)
	if err != nil {
		return nil, err
	}
	return nil, b.TerminateCall(ctx, id)
}

func callSendDTMF(ctx context.Context, b Backend, body []byte) (any, error) {
	d, err := decodeCallDTMF(body)
	if err != nil {
		return nil, err
	}
	return nil, b.SendCallDTMF(ctx, d)
}
