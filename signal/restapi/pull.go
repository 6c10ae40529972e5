package restapi

import (
	"context"

	"github.com/potok-media/potok/api/rest"
)

// Pull endpoints (docs/protocol.md §G.2): a stream of another Potok or WCS server, reached by its
// WebSocket URL as a WebSDK client would, published here under a local name. /pull/push and the
// RTMP pulls stay 501.

// pullPull starts a pull: void, 409 when the local name is published already.
func pullPull(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := parseFields(body)
	if err != nil {
		return nil, err
	}
	a := rest.PullAgent{URI: f.required("uri"), RemoteStreamName: f.required("remoteStreamName"),
		LocalStreamName: f.required("localStreamName")}
	if f.err != nil {
		return nil, f.err
	}
	return nil, b.Pull(ctx, a)
}

// pullFindAll lists the cluster's pulls: 200 with [] when there is none, as WCS answers.
func pullFindAll(ctx context.Context, b Backend, _ []byte) (any, error) {
	return b.Pulls(ctx)
}

// pullTerminate stops the pull named by localStreamName (or localMediaSessionId); WCS's other
// members of the body are accepted and ignored.
func pullTerminate(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := parseFields(body)
	if err != nil {
		return nil, err
	}
	a := rest.PullAgent{URI: f.str("uri"), LocalMediaSessionID: f.str("localMediaSessionId"),
		RemoteMediaSessionID: f.str("remoteMediaSessionId"), LocalStreamName: f.str("localStreamName"),
		RemoteStreamName: f.str("remoteStreamName"), Status: f.str("status")}
	if f.err != nil {
		return nil, f.err
	}
	if a.LocalStreamName == "" && a.LocalMediaSessionID == "" {
		return nil, badRequest("localStreamName or localMediaSessionId is required")
	}
	return nil, b.TerminatePull(ctx, a)
}
