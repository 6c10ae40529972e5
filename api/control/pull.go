package control

// Pulls (the REST API's /pull/*): a media daemon plays a stream of another WCS-protocol server
// (another Potok, or WCS itself) as a WebSDK client would, and publishes it here under a local
// name. The signal node that took the REST request claims the name and owns the pull; the daemon
// holds it and tells the owner when it ends.
const (
	OpPull     = "pull"     // PullRequest → PullReply (on the daemon chosen to hold it)
	OpPullStop = "pullStop" // PullStopRequest → StopReply
	OpPulls    = "pulls"    // {} → PullsReply: the pulls this daemon holds
)

// PullSession is the SessionID of every pull's owner: a pull has no WebSocket session of its
// own. Events whose owner carries it are about a pull, not a client's media session.
const PullSession = "pull"

// PullRequest asks a daemon to pull RemoteStreamName from the server at URI (a ws:// or wss://
// WebSocket URL) and publish it as LocalStreamName. Owner.MediaSessionID is the pull's id.
type PullRequest struct {
	Owner
	URI              string `json:"uri"`
	RemoteStreamName string `json:"remoteStreamName"`
	LocalStreamName  string `json:"localStreamName"`
}

// PullReply says whether the pull plays; Error is why not.
type PullReply struct {
	RemoteMediaSessionID string `json:"remoteMediaSessionId,omitempty"`
	Error                string `json:"error,omitempty"`
}

// PullStopRequest ends the pull its owner names.
type PullStopRequest struct {
	Owner
}

// PullsReply lists a daemon's pulls.
type PullsReply struct {
	Pulls []Pull `json:"pulls"`
	Error string `json:"error,omitempty"`
}

// Pull is one pull as a daemon reports it.
type Pull struct {
	Owner
	MediaNode            string `json:"mediaNode"`
	URI                  string `json:"uri"`
	RemoteStreamName     string `json:"remoteStreamName"`
	LocalStreamName      string `json:"localStreamName"`
	RemoteMediaSessionID string `json:"remoteMediaSessionId"`
	Status               string `json:"status"` // the remote play's WCS status, e.g. "PLAYING"
}
