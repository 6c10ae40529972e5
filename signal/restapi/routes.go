package restapi

import (
	"context"
	"encoding/json"
	"strings"
)

// endpoint is what an implemented route does: decode the body, ask the Backend, return the value
// to answer with (nil: an empty 200, WCS's "void").
type endpoint func(ctx context.Context, b Backend, body []byte) (any, error)

// route is one path under Prefix. The table below is the single list of what the REST API
// serves: the handler, the metrics labels and the OpenAPI test all read it.
type route struct {
	path string // under Prefix, with its leading slash: "/stream/find"
	// serve answers the route; nil means a WCS method Potok does not have yet, answered 501
	// with notYet.
	serve endpoint
	// notYet names the missing feature in a 501's reason: "This call method is not implemented yet".
	notYet string
	// static routes need no Backend (the OpenAPI document).
	static bool
}

// Reasons of the 501 answers, one per missing feature.
const (
	noCalls       = "This call method is not implemented yet"
	noRTSP        = "RTSP capture is not implemented yet"
	noPush        = "RTMP republishing is not implemented yet"
	noPull        = "This pull method is not implemented yet"
	noMixer       = "Mixers are not implemented yet"
	noTranscoder  = "Transcoding is not implemented yet"
	noVOD         = "VOD is not implemented yet"
	noCDN         = "This CDN method is not implemented yet"
	noAPISessions = "REST API sessions (/api) are not implemented yet"
	noSnapshot    = "Stream snapshots are not implemented yet"
	noRecording   = "Stream recording is not implemented yet"
)

// routes is every path of docs/protocol.md §G that Potok knows: the implemented ones, and WCS's
// others answering 501 so that a backend written for WCS learns what is missing rather than
// getting a 404.
var routes = []route{
	{path: "/openapi.json", serve: serveOpenAPI, static: true},

	{path: "/stream/find_all", serve: streamFindAll},
	{path: "/stream/find", serve: streamFind},
	{path: "/stream/terminate", serve: streamTerminate},
	{path: "/stream/event/send", serve: streamEventSend},
	{path: "/stream/snapshot", notYet: noSnapshot},
	{path: "/stream/startRecording", notYet: noRecording},
	{path: "/stream/stopRecording", notYet: noRecording},

	{path: "/connection/find_all", serve: connectionFindAll},
	{path: "/connection/find", serve: connectionFind},
	{path: "/connection/terminate", serve: connectionTerminate},
	{path: "/connection/set_log_level", serve: setLogLevel},
	{path: "/data/send", serve: dataSend},
	{path: "/logger/enable_client_log", serve: setLogLevel},
	{path: "/logger/disable_client_log", serve: disableClientLog},
	{path: "/logger/set_node_log_level", serve: setNodeLogLevel}, // Potok's own

	{path: "/app/find_all", serve: appFindAll},
	{path: "/app/find", serve: appFind},
	{path: "/app/add", serve: appAdd},
	{path: "/app/update", serve: appUpdate},
	{path: "/app/remove", serve: appRemove},
	{path: "/app/method/add", serve: appMethodAdd},
	{path: "/app/method/remove", serve: appMethodRemove},

	{path: "/call/startup", notYet: noCalls},
	{path: "/call/find_all", serve: callFindAll},
	{path: "/call/find", serve: callFind},
	{path: "/call/terminate", serve: callTerminate},
	{path: "/call/send_dtmf", serve: callSendDTMF},
	{path: "/call/inject_sound", notYet: noCalls},
	{path: "/call/inject_stream", notYet: noCalls},
	{path: "/call/inject_stream/startup", notYet: noCalls},
	{path: "/call/inject_stream/terminate", notYet: noCalls},

	{path: "/rtsp/startup", notYet: noRTSP},
	{path: "/rtsp/find", notYet: noRTSP},
	{path: "/rtsp/find_all", notYet: noRTSP},
	{path: "/rtsp/terminate", notYet: noRTSP},

	{path: "/push/startup", notYet: noPush},
	{path: "/push/find", notYet: noPush},
	{path: "/push/find_all", notYet: noPush},
	{path: "/push/terminate", notYet: noPush},
	{path: "/push/mute", notYet: noPush},
	{path: "/push/unmute", notYet: noPush},
	{path: "/push/sound_on", notYet: noPush},
	{path: "/push/sound_off", notYet: noPush},

	{path: "/pull/pull", serve: pullPull},
	{path: "/pull/push", notYet: noPull},
	{path: "/pull/find_all", serve: pullFindAll},
	{path: "/pull/terminate", serve: pullTerminate},
	{path: "/pull/rtmp/pull", notYet: noPull},
	{path: "/pull/rtmp/find_all", notYet: noPull},
	{path: "/pull/rtmp/terminate", notYet: noPull},

	{path: "/mixer/startup", notYet: noMixer},
	{path: "/mixer/add", notYet: noMixer},
	{path: "/mixer/remove", notYet: noMixer},
	{path: "/mixer/find_all", notYet: noMixer},
	{path: "/mixer/terminate", notYet: noMixer},
	{path: "/mixer/test/start", notYet: noMixer},
	{path: "/mixer/test/stop", notYet: noMixer},
	{path: "/mixer/test/get_start_example", notYet: noMixer},

	{path: "/transcoder/startup", notYet: noTranscoder},
	{path: "/transcoder/find", notYet: noTranscoder},
	{path: "/transcoder/find_all", notYet: noTranscoder},
	{path: "/transcoder/terminate", notYet: noTranscoder},

	{path: "/vod/startup", notYet: noVOD},
	{path: "/vod/find", notYet: noVOD},
	{path: "/vod/find_all", notYet: noVOD},
	{path: "/vod/terminate", notYet: noVOD},

	{path: "/cdn/show_routes", serve: cdnShowRoutes},
	{path: "/cdn/stream/show_routes", serve: cdnStreamShowRoutes},

	{path: "/api/create-session", notYet: noAPISessions},
	{path: "/api/find_all", notYet: noAPISessions},
	{path: "/api/terminate", notYet: noAPISessions},
	{path: "/api/call", notYet: noAPISessions},
	{path: "/api/hangup", notYet: noAPISessions},
}

// families answer 501 for the paths of a missing feature that the table does not list: WCS
// versions differ in the methods they have, and a caller of any of them should learn that the
// whole feature is absent. Their metrics label is the prefix with a star, so it stays bounded.
var families = []struct{ prefix, notYet string }{
	{"/call/", noCalls},
	{"/rtsp/", noRTSP},
	{"/push/", noPush},
	{"/pull/", noPull},
	{"/mixer/", noMixer},
	{"/transcoder/", noTranscoder},
	{"/vod/", noVOD},
	{"/cdn/", noCDN},
	{"/api/", noAPISessions},
}

// labelOther is the metrics label of every request no route or family answers.
const labelOther = "other"

// routeIndex finds routes by path.
type routeIndex map[string]*route

func newRouteIndex() routeIndex {
	idx := make(routeIndex, len(routes))
	for i := range routes {
		idx[routes[i].path] = &routes[i]
	}
	return idx
}

// lookup returns the route answering path (the part after Prefix's final slash, with a leading
// slash), a family's 501 stand-in, or nil, with the bounded label for the metrics.
func (idx routeIndex) lookup(path string) (*route, string) {
	if rt := idx[path]; rt != nil {
		return rt, Prefix + rt.path[1:]
	}
	for _, f := range families {
		if strings.HasPrefix(path, f.prefix) {
			return &route{path: path, notYet: f.notYet}, Prefix + f.prefix[1:] + "*"
		}
	}
	return nil, labelOther
}

// serveOpenAPI answers the OpenAPI document of this API (openapi.go).
func serveOpenAPI(context.Context, Backend, []byte) (any, error) {
	return json.RawMessage(openAPIDocument), nil
}
