package scenario

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// TestInProcess runs the scenarios against the all-in-one shape: embedded NATS, one signal and one
// mediad in this process, talking only through NATS. After the cluster closes, no goroutine of
// it may be left.
func TestInProcess(t *testing.T) {
	base := runtime.NumGoroutine()
	c := cluster.Start(t, cluster.Options{})
	Run(t, Target{WSURL: c.WSURL, PeerConnections: func(*testing.T) int { return c.PeerConnections() }})
	c.Close()
	waitGoroutines(t, base)
}

// waitGoroutines allows a little slack for the runtime's and net/http's idle helpers.
func waitGoroutines(t *testing.T, base int) { testwait.Goroutines(t, base, 2, 10*time.Second) }
