package e2e

import (
	"os"
	"testing"
)

// envWSURL points the WebSDK tests at an already running server (a Potok started by hand, or a real WCS
// for comparison) instead of an in-process cluster.
const envWSURL = "POTOK_E2E_WSURL"

// potokWSURL returns the signalling WebSocket URL of the server under test.
// TODO(integrator): start internal/cluster here once it exists.
func potokWSURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv(envWSURL); u != "" {
		return u
	}
	t.Skipf("no server: internal/cluster is not there yet; set %s", envWSURL)
	return ""
}
