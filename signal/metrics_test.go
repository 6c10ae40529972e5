package signal_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
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

// TestStreamMetrics: a publish is pending until its media connects, then live, and gone once
// unpublished; its setup time is observed once, each status sent is counted under its kind.
func TestStreamMetrics(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{NodeID: "sig-a"}, "md-1", true)
	pub := e.dial(t)
	pub.connect(nil)
	streams := func(status string) float64 {
		return value(t, e, metrics.NameStreams, map[string]string{"kind": metrics.KindPublish, "status": status})
	}
	pub.send(wcs.MsgPublishStream, publishReq("m1", "s1"))
	pr := recv(t, md.publishes, "publish")
	pub.expectAnswer("m1")
	if p, l := streams(metrics.StreamPending), streams(metrics.StreamLive); p != 1 || l != 0 {
		t.Errorf("before the media connects: %v pending, %v live, want 1 and 0", p, l)
	}
	md.connected(pr.Owner, true)
	if st := pub.streamStatus(); st.Status != wcs.StatusPublishing {
		t.Fatalf("status %s", st.Status)
	}
	if p, l := streams(metrics.StreamPending), streams(metrics.StreamLive); p != 0 || l != 1 {
		t.Errorf("publishing: %v pending, %v live, want 0 and 1", p, l)
	}
	if n := histogramCount(t, e, metrics.NameStreamSetup); n != 1 {
		t.Errorf("%d stream setups observed, want 1", n)
	}
	pub.send(wcs.MsgUnPublishStream, map[string]any{"mediaSessionId": "m1", "name": "s1", "status": "PUBLISHING"})
	recv(t, md.stops, "stop")
	if st := pub.streamStatus(); st.Status != wcs.StatusUnpublished {
		t.Fatalf("status %s", st.Status)
	}
	if p, l := streams(metrics.StreamPending), streams(metrics.StreamLive); p != 0 || l != 0 {
		t.Errorf("unpublished: %v pending, %v live, want 0 and 0", p, l)
	}
	for status, want := range map[string]float64{wcs.StatusPublishing: 1, wcs.StatusUnpublished: 1, wcs.StatusFailed: 0} {
		got := value(t, e, metrics.NameStreamStatuses, map[string]string{"kind": metrics.KindPublish, "status": status})
		if got != want {
			t.Errorf("statuses{publish,%s} = %v, want %v", status, got, want)
		}
	}
}

// value is the counter or gauge of name whose labels include labels (0 when there is none).
func value(t *testing.T, e *env, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}
