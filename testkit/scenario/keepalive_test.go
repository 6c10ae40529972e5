package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestKeepAliveReattach (docs/protocol.md §H.8): a publisher's session created with keepAlive
// outlives its WebSocket: its stream goes on for the players while the socket is gone, a new
// connection carrying its authToken takes the session over (same token, the stream still
// PUBLISHING), and once nobody re-attaches within the grace the session ends as a disconnect.
func TestKeepAliveReattach(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Second
	c := cluster.Start(t, cluster.Options{Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = grace }})
	keep := map[string]any{"keepAlive": true}
	pubSess, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{Extra: keep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pubSess.Close() })
	name := streamName("kept")
	publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: c.WSURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video before the cut")

	token := pubSess.AuthToken()
	pubSess.DropSocket()
	before := player.ReceiveStats().VideoPackets
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before+30 },
		"video while the publisher's socket is gone")

	back, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{
		Extra: map[string]any{"keepAlive": true, "authToken": token}})
	if err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	t.Cleanup(func() { _ = back.Close() })
	if back.AuthToken() != token {
		t.Fatalf("re-attach got authToken %q, want the session's %q", back.AuthToken(), token)
	}
	streams := restFindStreams(t, c, rest.StreamFilter{SessionID: token})
	if len(streams) != 1 || streams[0].Name != name || streams[0].Status != wcs.StatusPublishing {
		t.Errorf("after the re-attach the session holds %+v, want %s PUBLISHING", streams, name)
	}

	// A token nobody waits with is a new session.
	other, err := wasmclient.Connect(ctx(t), c.WSURL, wasmclient.SessionOptions{
		Extra: map[string]any{"keepAlive": true, "authToken": "no-such-session"}})
	if err != nil {
		t.Fatal(err)
	}
	if other.AuthToken() == "no-such-session" || other.AuthToken() == token {
		t.Errorf("an unknown authToken re-attached: %q", other.AuthToken())
	}
	// A page that disconnects (a close frame) ends its keepAlive session at once: only a lost
	// socket is waited for.
	closed := time.Now()
	_ = other.Close()
	testwait.Until(t, grace, "a keepAlive session closed by its page gone", func() bool {
		var conns []rest.Connection
		return restPost(t, c.RESTURLs[0]+"/rest-api/connection/find", `{"sessionId":"`+other.AuthToken()+`"}`, &conns) == http.StatusNotFound
	})
	if d := time.Since(closed); d >= grace {
		t.Errorf("the closed keepAlive session lasted %v", d)
	}

	cut := time.Now()
	back.DropSocket()
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	if waited := time.Since(cut); waited < grace-500*time.Millisecond {
		t.Errorf("the session ended %v after its socket, before its %v grace", waited, grace)
	}
	testwait.UntilOK(t, 10*time.Second, "the session and its publisher gone", func() error {
		if n, pcs := c.Signals[0].Sessions(), c.PeerConnections(); n != 1 || pcs != 0 {
			return fmt.Errorf("%d sessions (want the player's 1) and %d peer connections (want none: the publisher's ended, and with it its player)", n, pcs)
		}
		return nil
	})
}

// restFindStreams asks the cluster's REST API for the streams f matches (none: empty).
func restFindStreams(t *testing.T, c *cluster.Cluster, f rest.StreamFilter) []rest.Stream {
	t.Helper()
	body, _ := json.Marshal(f)
	var out []rest.Stream
	restPost(t, c.RESTURLs[0]+"/rest-api/stream/find", string(body), &out)
	return out
}
