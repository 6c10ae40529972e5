package scenario

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// Pulls (issue 8 item 3, docs/protocol.md §G.2 /pull/*): one cluster pulls a stream from another
// by its WebSocket URL, as a WebSDK client would play it, and publishes it under a local name
// that its own players play like any stream.

// pullBody is a /pull/* request body.
func pullBody(t *testing.T, a rest.PullAgent) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// restVoid posts body to url and returns the status, ignoring the body (a void answer is empty).
func restVoid(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// pulls is /pull/find_all, which answers 200 even when empty.
func pulls(t *testing.T, c *cluster.Cluster) []rest.PullAgent {
	t.Helper()
	var out []rest.PullAgent
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/pull/find_all", `{}`, &out); code != http.StatusOK {
		t.Fatalf("pull/find_all: %d", code)
	}
	return out
}

// TestPullFromAnotherCluster: a local player receives the remote stream through the pull;
// find_all lists it; the name cannot be pulled twice; terminate ends the player and frees the
// name; a pull whose remote publisher stops ends its players "Stopped by publisher stop".
func TestPullFromAnotherCluster(t *testing.T) {
	t.Parallel()
	remote := cluster.Start(t, cluster.Options{})
	local := cluster.Start(t, cluster.Options{})
	remoteName, localName := streamName("pull-origin"), streamName("pulled")
	pub := publishSynthetic(t, connect(t, Target{WSURL: remote.WSURL}), remoteName, wcs.StatusPublishing)

	req := rest.PullAgent{URI: remote.WSURL, RemoteStreamName: remoteName, LocalStreamName: localName}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusOK {
		t.Fatalf("pull/pull: %d", code)
	}
	player := play(t, connect(t, Target{WSURL: local.WSURL}), wasmclient.PlayOptions{Name: localName}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 30 }, "video through the pull")

	got := pulls(t, local)
	if len(got) != 1 || got[0].LocalStreamName != localName || got[0].RemoteStreamName != remoteName ||
		got[0].URI != remote.WSURL || got[0].Status != wcs.StatusPlaying || got[0].LocalMediaSessionID == "" ||
		got[0].RemoteMediaSessionID == "" {
		t.Errorf("pull/find_all = %+v, want the one pull of %s as %s, PLAYING", got, remoteName, localName)
	}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusConflict {
		t.Errorf("second pull of %s: %d, want 409", localName, code)
	}

	term := rest.PullAgent{LocalStreamName: localName}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/terminate", pullBody(t, term)); code != http.StatusOK {
		t.Fatalf("pull/terminate: %d", code)
	}
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	if got := pulls(t, local); len(got) != 0 {
		t.Errorf("pull/find_all after terminate = %+v, want []", got)
	}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/terminate", pullBody(t, term)); code != http.StatusNotFound {
		t.Errorf("terminate of a pull gone: %d, want 404", code)
	}
	own := publishSynthetic(t, connect(t, Target{WSURL: local.WSURL}), localName, wcs.StatusPublishing)
	stop(t, own, wcs.StatusUnpublished)

	// Pulled again, then the remote publisher stops: the pull ends with it.
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusOK {
		t.Fatalf("pull/pull again: %d", code)
	}
	player = play(t, connect(t, Target{WSURL: local.WSURL}), wasmclient.PlayOptions{Name: localName}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the second pull")
	stop(t, pub, wcs.StatusUnpublished)
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	testwait.Until(t, 10*time.Second, "the pull gone and its name free", func() bool {
		if len(pulls(t, local)) != 0 || local.Mediads[0].Pulls() != 0 {
			return false
		}
		code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/terminate", pullBody(t, term))
		return code == http.StatusNotFound
	})
	testwait.Until(t, 10*time.Second, "no peer connection left", func() bool {
		return local.PeerConnections() == 0 && remote.PeerConnections() == 0
	})
}

// TestPullRefused: a remote stream that does not exist fails the pull (500 with the remote's
// reason) and leaves the name free; a URL that is not a WebSocket one is a 400.
func TestPullRefused(t *testing.T) {
	t.Parallel()
	remote := cluster.Start(t, cluster.Options{})
	local := cluster.Start(t, cluster.Options{})
	localName := streamName("pulled-nothing")
	req := rest.PullAgent{URI: remote.WSURL, RemoteStreamName: streamName("absent"), LocalStreamName: localName}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusInternalServerError {
		t.Errorf("pull of an absent stream: %d, want 500", code)
	}
	req.URI = "http://" + remote.WSURL[len("ws://"):]
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusBadRequest {
		t.Errorf("pull from an http:// URL: %d, want 400", code)
	}
	if got := pulls(t, local); len(got) != 0 {
		t.Errorf("pull/find_all = %+v, want []", got)
	}
	own := publishSynthetic(t, connect(t, Target{WSURL: local.WSURL}), localName, wcs.StatusPublishing)
	stop(t, own, wcs.StatusUnpublished)
}

// TestPullEndsWithItsMediad: closing the media daemon that holds a pull ends it — the remote
// play is stopped (its peer connection goes) and the pull is gone from find_all.
func TestPullEndsWithItsMediad(t *testing.T) {
	t.Parallel()
	remote := cluster.Start(t, cluster.Options{})
	local := cluster.Start(t, cluster.Options{})
	remoteName := streamName("pull-closed-origin")
	publishSynthetic(t, connect(t, Target{WSURL: remote.WSURL}), remoteName, wcs.StatusPublishing)
	req := rest.PullAgent{URI: remote.WSURL, RemoteStreamName: remoteName, LocalStreamName: streamName("pulled-closed")}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusOK {
		t.Fatalf("pull/pull: %d", code)
	}
	testwait.Until(t, 10*time.Second, "the remote serving the pull", func() bool { return remote.PeerConnections() == 2 })
	if err := local.Mediads[0].Close(); err != nil {
		t.Fatal(err)
	}
	if n := local.Mediads[0].Pulls(); n != 0 {
		t.Errorf("%d pulls left on a closed media daemon", n)
	}
	testwait.Until(t, 10*time.Second, "the remote play ended with the pull", func() bool {
		return remote.PeerConnections() == 1 // the publisher's
	})
}

// TestPullAsAStream: a pulled stream is listed by /stream/find as the publisher of session
// "pull", /stream/terminate by its name ends it like /pull/terminate, and a draining media
// daemon waits for its pulls, then ends them past the grace (players FAILED "Media server
// shutdown", the name freed).
func TestPullAsAStream(t *testing.T) {
	t.Parallel()
	remote := cluster.Start(t, cluster.Options{})
	local := cluster.Start(t, cluster.Options{})
	remoteName, localName := streamName("pull-origin"), streamName("pulled")
	publishSynthetic(t, connect(t, Target{WSURL: remote.WSURL}), remoteName, wcs.StatusPublishing)
	req := rest.PullAgent{URI: remote.WSURL, RemoteStreamName: remoteName, LocalStreamName: localName}
	startPull := func() *wasmclient.Stream {
		t.Helper()
		if code := restVoid(t, local.RESTURLs[0]+"/rest-api/pull/pull", pullBody(t, req)); code != http.StatusOK {
			t.Fatalf("pull/pull: %d", code)
		}
		player := play(t, connect(t, Target{WSURL: local.WSURL}), wasmclient.PlayOptions{Name: localName}, wcs.StatusPlaying)
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video through the pull")
		return player
	}
	player := startPull()
	yes := true
	got := restFindStreams(t, local, rest.StreamFilter{Name: localName, Published: &yes})
	if len(got) != 1 || got[0].SessionID != "pull" || got[0].Status != wcs.StatusPublishing || got[0].MediaType != "pull" {
		t.Errorf("stream/find of the pulled %s = %+v, want its publisher, session \"pull\", PUBLISHING", localName, got)
	}
	if code := restVoid(t, local.RESTURLs[0]+"/rest-api/stream/terminate", `{"name":"`+localName+`","published":true}`); code != http.StatusOK {
		t.Fatalf("stream/terminate of the pulled stream: %d", code)
	}
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	testwait.Until(t, 10*time.Second, "the terminated pull gone", func() bool {
		return len(pulls(t, local)) == 0 && len(restFindStreams(t, local, rest.StreamFilter{Name: localName})) == 0
	})

	player = startPull()
	const grace = time.Second
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	if err := local.Mediads[0].Drain(dctx, grace); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if took := time.Since(began); took < grace {
		t.Errorf("the drain returned after %v, before its %v grace, with a pull playing", took, grace)
	}
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoMediaNodeShutdown)
	if n := local.Mediads[0].Pulls(); n != 0 {
		t.Errorf("%d pulls left on the drained daemon", n)
	}
	testwait.Until(t, 10*time.Second, "the drained pull's name free", func() bool {
		return len(pulls(t, local)) == 0 && len(restFindStreams(t, local, rest.StreamFilter{Name: localName})) == 0
	})
}
