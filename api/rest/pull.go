package rest

// PullAgent is one stream pulled from another WCS-protocol server (docs/protocol.md §G.2,
// /pull/*): RemoteStreamName played at URI, published here as LocalStreamName. It is the body of
// /pull/pull (URI and both names) and of /pull/terminate (which names the pull by
// LocalStreamName or LocalMediaSessionID), and one element of /pull/find_all.
type PullAgent struct {
	URI                  string `json:"uri"`
	LocalMediaSessionID  string `json:"localMediaSessionId,omitempty"`
	RemoteMediaSessionID string `json:"remoteMediaSessionId,omitempty"`
	LocalStreamName      string `json:"localStreamName"`
	RemoteStreamName     string `json:"remoteStreamName"`
	Status               string `json:"status,omitempty"`
}
