package signal_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/metrics"
)

// TestConnectionsClosedByReason: each way a WebSocket ends is counted under its reason, every
// accepted one as opened, and each established session's setup is observed once.
func TestConnectionsClosedByReason(t *testing.T) {
	const interval, missed = 100 * time.Millisecond, 3
	e := newEnv(t, signal.Config{PingInterval: interval, MissedPongs: missed})
	closed := func(reason string) float64 { return e.metric(metrics.NameConnectionsClosed, reason) }

	byClient := e.dial(t)
	byClient.connect(nil)
	if err := byClient.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "client_closed", func() bool { return closed(metrics.ClosedByClient) == 1 })

	cut := e.dial(t)
	cut.connect(nil)
	_ = cut.ws.CloseNow() // no close frame: a network cut
	eventually(t, "lost", func() bool { return closed(metrics.ClosedLost) == 1 })

	silent := e.dial(t)
	silent.mu.Lock()
	silent.silent = true
	silent.mu.Unlock()
	silent.waitClosed(waitFor)
	eventually(t, "ping_timeout", func() bool { return closed(metrics.ClosedPingTimeout) == 1 })

	live := e.dial(t)
	live.connect(nil)
	e.stop(false)
	live.waitClosed(waitFor)
	eventually(t, "shutdown", func() bool { return closed(metrics.ClosedShutdown) == 1 })

	if n := e.metric(metrics.NameConnectionsOpened, ""); n != 4 {
		t.Errorf("opened %v, want 4", n)
	}
	for _, r := range []string{metrics.ClosedQueueFull, metrics.ClosedTooLarge, metrics.ClosedByServer} {
		if n := closed(r); n != 0 {
			t.Errorf("closed{%s} = %v, want 0", r, n)
		}
	}
	if n := histogramCount(t, e, metrics.NameSessionSetup); n != 3 {
		t.Errorf("%v session setups observed, want 3 (the connections that sent connection)", n)
	}
}

func histogramCount(t *testing.T, e *env, name string) uint64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}
