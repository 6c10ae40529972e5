package scenario

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/internal/cluster"
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

// waitGoroutines waits for the goroutine count to come back to base (a little slack for the
// runtime's and net/http's idle helpers) and dumps the stacks if it does not.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines left, started with %d:\n%s", runtime.NumGoroutine(), base, filterStacks(string(buf[:n])))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// filterStacks keeps the goroutines that are not the test framework's own.
func filterStacks(all string) string {
	var keep []string
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "testing.(*T).Run") || strings.Contains(g, "testing.tRunner") && strings.Contains(g, "waitGoroutines") {
			continue
		}
		keep = append(keep, g)
	}
	return strings.Join(keep, "\n\n")
}
