package e2e

import (
	"os"
	"testing"

	"github.com/potok-media/potok/testkit/cluster"
)

// envWSURL points the WebSDK tests at an already running server (a Potok started by hand, or a real WCS
// for comparison) instead of an in-process cluster.
const envWSURL = "POTOK_E2E_WSURL"

// potokWSURL returns the signalling WebSocket URL of the server under test: an in-process cluster
// (embedded NATS, one signal, one mediad, loopback-only media) that stops in t.Cleanup.
func potokWSURL(t *testing.T) string {
	t.Helper()
	return potokWSURLs(t, cluster.Options{})[0]
}

// potokWSURLs starts a cluster shaped by o and returns the URL of each signal node. Under
// POTOK_E2E_WSURL every node is that one server.
func potokWSURLs(t *testing.T, o cluster.Options) []string {
	t.Helper()
	if u := os.Getenv(envWSURL); u != "" {
		urls := make([]string, max(o.Signals, 1))
		for i := range urls {
			urls[i] = u
		}
		return urls
	}
	return cluster.Start(t, o).WSURLs
}
