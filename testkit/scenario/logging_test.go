package scenario

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestNodeLogLevelAtRunTime: /rest-api/logger/set_node_log_level changes the log level of live
// processes (issue 10, item 3). A signal node and a media daemon start at info and log JSON, as
// they do when their log is not a terminal; DEBUG on every node makes both log debug lines about
// the next publish; WARN on the media daemon alone silences its info lines while the signal node
// keeps logging debug.
func TestNodeLogLevelAtRunTime(t *testing.T) {
	t.Parallel()
	c := startProcCluster(t, 1, "--log-level", "info")
	sig, md := c.signal, c.mediads[0]
	for _, p := range []*process{sig, md} {
		if n := count(p.linesSince(0), "debug"); n != 0 {
			t.Fatalf("%s started at info but logged %d debug lines", p.name, n)
		}
	}

	var all []rest.NodeLogLevel
	if code := restPost(t, c.sigHTTP+"/rest-api/logger/set_node_log_level", `{"logLevel":"DEBUG"}`, &all); code != http.StatusOK {
		t.Fatalf("set_node_log_level DEBUG: %d", code)
	}
	want := []rest.NodeLogLevel{{NodeID: "signal-a", Tier: "signal", LogLevel: "debug"},
		{NodeID: c.mediadID[0], Tier: "mediad", LogLevel: "debug"}}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("set_node_log_level DEBUG answered %+v, want %+v", all, want)
	}
	sigMark, mdMark := sig.mark(), md.mark()
	publishAndStop(t, c.wsURL, "loglevel-debug")
	testwait.UntilOK(t, stepTimeout, "debug lines from both nodes", func() error {
		for p, mark := range map[*process]int{sig: sigMark, md: mdMark} {
			if count(p.linesSince(mark), "debug") == 0 {
				return fmt.Errorf("%s: no debug line since DEBUG was set", p.name)
			}
		}
		return nil
	})

	var one []rest.NodeLogLevel
	body := fmt.Sprintf(`{"logLevel":"warn","nodeId":%q}`, c.mediadID[0])
	if code := restPost(t, c.sigHTTP+"/rest-api/logger/set_node_log_level", body, &one); code != http.StatusOK {
		t.Fatalf("set_node_log_level WARN on %s: %d", c.mediadID[0], code)
	}
	if len(one) != 1 || one[0].NodeID != c.mediadID[0] || one[0].LogLevel != "warn" {
		t.Fatalf("set_node_log_level WARN on %s answered %+v", c.mediadID[0], one)
	}
	sigMark, mdMark = sig.mark(), md.mark()
	publishAndStop(t, c.wsURL, "loglevel-warn")
	testwait.UntilOK(t, stepTimeout, "the signal node to go on logging debug", func() error {
		if count(sig.linesSince(sigMark), "debug") == 0 {
			return fmt.Errorf("no debug line from %s", sig.name)
		}
		return nil
	})
	for _, level := range []string{"trace", "debug", "info"} {
		if n := count(md.linesSince(mdMark), level); n != 0 {
			t.Errorf("%s at warn logged %d %s lines: %v", md.name, n, level, md.linesSince(mdMark))
		}
	}

	// One client traced: with every node back at INFO, connection/set_log_level raises the level
	// of one session's lines only; disable_client_log lowers it again.
	if code := restPost(t, c.sigHTTP+"/rest-api/logger/set_node_log_level", `{"logLevel":"INFO"}`, &all); code != http.StatusOK {
		t.Fatalf("set_node_log_level INFO: %d", code)
	}
	traced, other := connect(t, Target{WSURL: c.wsURL}), connect(t, Target{WSURL: c.wsURL})
	clientLog := fmt.Sprintf(`{"sessionId":%q,"logLevel":"DEBUG"}`, traced.AuthToken())
	if code := restPost(t, c.sigHTTP+"/rest-api/connection/set_log_level", clientLog, nil); code != http.StatusOK {
		t.Fatalf("connection/set_log_level: %d", code)
	}
	sigMark = sig.mark()
	publishSynthetic(t, traced, streamName("loglevel-traced"), wcs.StatusPublishing)
	publishSynthetic(t, other, streamName("loglevel-other"), wcs.StatusPublishing)
	testwait.UntilOK(t, stepTimeout, "debug lines of the traced session", func() error {
		if countSession(sig.linesSince(sigMark), "debug", traced.AuthToken()) == 0 {
			return fmt.Errorf("no debug line of session %s", traced.AuthToken())
		}
		return nil
	})
	lines := sig.linesSince(sigMark)
	if n, all := countSession(lines, "debug", other.AuthToken()), count(lines, "debug"); n != 0 || all != countSession(lines, "debug", traced.AuthToken()) {
		t.Errorf("with one session traced the signal node logged %d debug lines, %d of the other session", all, n)
	}
	untrace := fmt.Sprintf(`{"sessionId":%q}`, traced.AuthToken())
	if code := restPost(t, c.sigHTTP+"/rest-api/logger/disable_client_log", untrace, nil); code != http.StatusOK {
		t.Fatalf("logger/disable_client_log: %d", code)
	}
	sigMark = sig.mark()
	publishSynthetic(t, traced, streamName("loglevel-untraced"), wcs.StatusPublishing)
	if n := count(sig.linesSince(sigMark), "debug"); n != 0 {
		t.Errorf("after disable_client_log the signal node logged %d debug lines", n)
	}

	for _, bad := range []struct {
		body string
		code int
	}{
		{`{"logLevel":"LOUD"}`, http.StatusBadRequest},
		{`{}`, http.StatusBadRequest},
		{`{"logLevel":"INFO","nodeId":"no-such-node"}`, http.StatusNotFound},
	} {
		if code := restPost(t, c.sigHTTP+"/rest-api/logger/set_node_log_level", bad.body, nil); code != bad.code {
			t.Errorf("set_node_log_level %s: %d, want %d", bad.body, code, bad.code)
		}
	}
}

// publishAndStop publishes a synthetic stream, then closes its session: some activity on both tiers.
func publishAndStop(t *testing.T, wsURL, prefix string) {
	t.Helper()
	s, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publishSynthetic(t, s, streamName(prefix), wcs.StatusPublishing)
	s.Close()
}

// count is how many of lines are JSON log records at level.
func count(lines []string, level string) int { return countSession(lines, level, "") }

// countSession is count of the records about one session ("": any).
func countSession(lines []string, level, sessionID string) int {
	n := 0
	for _, l := range lines {
		var rec struct {
			Level     string `json:"level"`
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Level == level && (sessionID == "" || rec.SessionID == sessionID) {
			n++
		}
	}
	return n
}
