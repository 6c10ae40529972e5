package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/dashboards"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/testkit/backend"
	promproc "github.com/potok-media/potok/testkit/prometheus"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
)

// TestMonitoringWithPrometheus proves dashboards/ against a real Prometheus (issue 10): Debian's
// prometheus scrapes two `potok signal` and two `potok mediad` processes every second and loads
// dashboards/rules.yml, while they carry a publisher with REST hooks to a backend, players on
// both signal nodes, a failed play and REST API requests. Then every expr of every panel and the
// expr of every rule (an alert's signal, without its threshold) is evaluated through the HTTP API:
// a PromQL error or an empty result fails. Every process's /metrics passes `promtool check
// metrics`, every potok_ series carries its node label, and no label value stored is a stream
// name, a session id or the clients' address.
func TestMonitoringWithPrometheus(t *testing.T) {
	t.Parallel()
	promtool := promproc.Tool(t, "promtool")
	promproc.Tool(t, "prometheus")
	bin := potokBinary(t)
	nats, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)

	var mdHTTP, sigHTTP, wsURLs []string
	for _, id := range []string{"mediad-a", "mediad-b"} {
		md := startProcess(t, bin, "mediad", "--nats", nats.ClientURL(), "--mediad-node-id", id, "--media-ip", "127.0.0.1",
			"--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0")
		md.name = "potok mediad " + id
		mdHTTP = append(mdHTTP, md.waitAddr(t, "metrics listening"))
	}
	for _, id := range []string{"signal-a", "signal-b"} {
		sig := startProcess(t, bin, "signal", "--nats", nats.ClientURL(), "--signal-node-id", id,
			"--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
		sig.name = "potok signal " + id
		wsURLs = append(wsURLs, "ws://"+sig.waitAddr(t, "websocket listening"))
		sigHTTP = append(sigHTTP, sig.waitAddr(t, "http listening"))
	}
	for _, ws := range wsURLs {
		waitPublishable(t, ws, func() int {
			return int(scrapeGauge(t, "http://"+mdHTTP[0]+"/metrics", "potok_mediad_peer_connections") +
				scrapeGauge(t, "http://"+mdHTTP[1]+"/metrics", "potok_mediad_peer_connections"))
		})
	}

	rules, err := dashboards.Files.ReadFile(dashboards.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	prom := promproc.Start(t, promproc.Options{
		Jobs:      map[string][]string{"potok-signal": sigHTTP, "potok-mediad": mdHTTP},
		RuleFiles: map[string][]byte{dashboards.RulesFile: rules},
	})
	forbidden := monitoredTraffic(t, bin, wsURLs, sigHTTP)

	for _, addr := range append(append([]string(nil), sigHTTP...), mdHTTP...) {
		promtoolCheckMetrics(t, promtool, "http://"+addr+"/metrics")
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()
	testwait.UntilOK(t, 30*time.Second, "every process scraped", func() error {
		targets, err := prom.Targets(c)
		if err != nil {
			return err
		}
		if len(targets) != 4 {
			return fmt.Errorf("targets %v", targets)
		}
		for u, h := range targets {
			if h != "up" {
				return fmt.Errorf("%s: %s", u, h)
			}
		}
		return nil
	})
	// Media is flowing in what Prometheus has stored, and the recording rule has evaluated.
	waitSeries(t, c, prom, `sum(rate(potok_mediad_rtp_sent_packets_total{kind="video"}[10s])) > 0`)
	waitSeries(t, c, prom, `instance:potok_mediad_cpu_seconds_per_sent_packet:rate1m`)
	t.Logf("MEASURED targets up and media in Prometheus %v after the traffic started", time.Since(started).Round(100*time.Millisecond))

	queries, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"node": ".*", "tier": ".*", "datasource": "prometheus",
		"__rate_interval": "10s", "__interval": "1s", "__range": "5m"}
	evalStart := time.Now()
	for _, q := range queries {
		expr := dashboards.Substitute(q.Expr, vars)
		if q.Alert {
			expr = dashboards.Signal(expr)
		}
		// Series appear within a few scrapes of the traffic; an empty answer is retried until
		// then, an error is final.
		testwait.UntilOK(t, 15*time.Second, q.Where+" returns series", func() error {
			res, err := prom.Query(c, expr)
			if err != nil {
				t.Fatalf("%s: %s: %v", q.Where, expr, err)
			}
			if len(res.Series) == 0 && !res.Scalar {
				return fmt.Errorf("no series for %s", expr)
			}
			return nil
		})
	}
	t.Logf("MEASURED %d panel and rule queries evaluated in %v", len(queries), time.Since(evalStart).Round(100*time.Millisecond))
	checkRulesHealthy(t, c, prom)
	checkStoredLabels(t, c, prom, forbidden)
	checkValues(t, c, prom)
}

// checkValues: the series the panels found are not only there (many are exported at 0 from the
// start) but count what the traffic did, as Prometheus stored it.
func checkValues(t *testing.T, c context.Context, prom *promproc.Proc) {
	t.Helper()
	for _, v := range []struct {
		expr string
		min  float64
	}{
		{`count(potok_build_info)`, 4},
		{`count(potok_heartbeat_age_seconds < 5)`, 4},
		{`count(potok_nats_connected == 1)`, 4},
		{`sum(potok_signal_ws_connections)`, 3},
		{`sum(potok_signal_ws_connections_opened_total)`, 3},
		{`sum(potok_signal_ws_messages_sent_total{message="getUserData"})`, 3},
		{`sum(potok_signal_ws_messages_received_total{message="publishStream"})`, 1},
		{`sum(potok_signal_session_setup_duration_seconds_count)`, 3},
		{`sum(potok_signal_stream_setup_duration_seconds_count{kind="publish"})`, 1},
		{`sum(potok_signal_stream_setup_duration_seconds_count{kind="play"})`, 2},
		{`sum(potok_signal_stream_statuses_total{kind="play",status="FAILED"})`, 1},
		{`sum(potok_signal_media_sessions{kind="play"})`, 2},
		{`sum(potok_signal_mediad_rpc_duration_seconds_count{op="publish"})`, 1},
		{`sum(potok_signal_hook_requests_total{method="connect",outcome="ok"})`, 3},
		{`sum(potok_signal_hook_duration_seconds_count{method="publishStream"})`, 1},
		{`sum(potok_signal_rest_requests_total{endpoint="/rest-api/stream/find_all",code="200"})`, 2},
		{`sum(potok_mediad_media_sessions{role="publish"})`, 1},
		{`sum(potok_mediad_media_sessions{role="play"})`, 2},
		{`sum(potok_mediad_peer_connections{state="connected"})`, 3},
		{`sum(rate(potok_mediad_rtp_received_packets_total{kind="video"}[10s]))`, 10},
		{`sum(rate(potok_mediad_rtp_received_packets_total{kind="audio"}[10s]))`, 1},
		{`sum(rate(potok_mediad_rtp_sent_packets_total{kind="video"}[10s]))`, 20},
		{`sum(potok_mediad_play_first_keyframe_seconds_count)`, 2},
		{`sum(potok_mediad_play_first_packet_seconds_count{kind="video"})`, 2},
		{`sum(potok_mediad_forwarding_latency_seconds_count)`, 1},
		{`count(instance:potok_mediad_cpu_seconds_per_sent_packet:rate1m > 0 < 1)`, 1},
	} {
		// A rate or a recorded series settles within a few scrapes and evaluations.
		testwait.UntilOK(t, 10*time.Second, fmt.Sprintf("%s >= %v", v.expr, v.min), func() error {
			res, err := prom.Query(c, v.expr)
			if err != nil {
				t.Fatalf("%s: %v", v.expr, err)
			}
			got := 0.0
			if len(res.Series) == 1 {
				got, _ = strconv.ParseFloat(res.Series[0].Value, 64)
			}
			if len(res.Series) != 1 || got < v.min {
				return fmt.Errorf("%v (%d series)", got, len(res.Series))
			}
			return nil
		})
	}
	if res, err := prom.Query(c, `instance:potok_mediad_cpu_seconds_per_sent_packet:rate1m > 0 < 1`); err == nil && len(res.Series) > 0 {
		t.Logf("MEASURED CPU per delivered packet (recording rule, processes on a shared 2-core machine): %s s", res.Series[0].Value)
	}
}

// monitoredTraffic is what the dashboards show: an app whose REST hooks go to a backend, its
// publisher on signal A, a player on each signal node (A's on the publisher's daemon, B's
// through the directory), a play of a missing stream, and REST API requests on both nodes. The
// streams go on until the test ends. It returns the values no label may take.
func monitoredTraffic(t *testing.T, bin string, wsURLs, sigHTTP []string) []string {
	t.Helper()
	b := backend.Start(t)
	if out, err := exec.Command(bin, "apps", "--rest", "http://"+sigHTTP[0], "add", "hooks", "--url", b.URL,
		"--all-methods").CombinedOutput(); err != nil {
		t.Fatalf("potok apps add: %v\n%s", err, out)
	}
	session := func(ws string) *wasmclient.Session {
		t.Helper()
		s, err := wasmclient.Connect(ctx(t), ws, wasmclient.SessionOptions{AppKey: "hooks"})
		if err != nil {
			t.Fatalf("connect %s: %v", ws, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	name := streamName("monitored")
	pubSess := session(wsURLs[0])
	pub := publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	forbidden := []string{name, name + "-missing", "127.0.0.1", pub.MediaSessionID(), sessionID(pubSess)}
	for _, ws := range wsURLs {
		s := session(ws)
		player := play(t, s, wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
		waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.Keyframes >= 1 && rs.VideoPackets > 30 },
			"video at the player through %s", ws)
		forbidden = append(forbidden, player.MediaSessionID(), sessionID(s))
	}
	missing, err := pubSess.Play(ctx(t), wasmclient.PlayOptions{Name: name + "-missing"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := missing.WaitStatus(ctx(t), wcs.StatusFailed); err != nil {
		t.Fatalf("play of a missing stream: %v", err)
	}
	for _, h := range sigHTTP {
		resp, err := http.Post("http://"+h+"/rest-api/stream/find_all", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return forbidden
}

func sessionID(s *wasmclient.Session) string {
	var id string
	_ = json.Unmarshal(s.UserData()["sessionId"], &id)
	return id
}

// promtoolCheckMetrics runs `promtool check metrics` on what url serves.
func promtoolCheckMetrics(t *testing.T, promtool, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics %s: %v\n%s", url, err, out)
	}
}

func waitSeries(t *testing.T, c context.Context, prom *promproc.Proc, expr string) {
	t.Helper()
	testwait.UntilOK(t, 30*time.Second, expr, func() error {
		res, err := prom.Query(c, expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if len(res.Series) == 0 {
			return fmt.Errorf("no series")
		}
		return nil
	})
}

// checkRulesHealthy: Prometheus has evaluated every rule of rules.yml without an error.
func checkRulesHealthy(t *testing.T, c context.Context, prom *promproc.Proc) {
	t.Helper()
	want, err := dashboards.Rules()
	if err != nil {
		t.Fatal(err)
	}
	testwait.UntilOK(t, 10*time.Second, "every rule evaluated", func() error {
		states, err := prom.Rules(c)
		if err != nil {
			return err
		}
		if len(states) != len(want) {
			return fmt.Errorf("%d rules loaded, rules.yml has %d", len(states), len(want))
		}
		for _, s := range states {
			if s.LastError != "" || s.Health == "err" {
				t.Fatalf("rule %s: %s %s", s.Name, s.Health, s.LastError)
			}
			if s.Health != "ok" {
				return fmt.Errorf("rule %s: %s", s.Name, s.Health)
			}
		}
		return nil
	})
}

// checkStoredLabels: in everything Prometheus stored, each potok_ series names its node, and no
// label but the target's own (instance) holds an address, a stream name or a session id, or
// more values than a closed set would.
func checkStoredLabels(t *testing.T, c context.Context, prom *promproc.Proc, forbidden []string) {
	t.Helper()
	res, err := prom.Query(c, `count by (__name__) ({__name__=~"potok_.+", node=""})`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Series {
		t.Errorf("%s has series without a node label", s.Labels["__name__"])
	}
	names, err := prom.LabelNames(c)
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{}
	for _, f := range forbidden {
		banned[f] = true
	}
	for _, ln := range names {
		if ln == "__name__" || ln == "instance" {
			continue
		}
		bounds := ln == "le" || ln == "quantile" // a histogram's buckets, a summary's quantiles
		values, err := prom.LabelValues(c, ln)
		if err != nil {
			t.Fatal(err)
		}
		if !bounds && len(values) > dashboards.MaxLabelValues {
			t.Errorf("label %s takes %d values: %v", ln, len(values), values)
		}
		for _, v := range values {
			if banned[v] || net.ParseIP(v) != nil {
				t.Errorf("label %s=%q: a stream name, session id or address", ln, v)
			}
		}
	}
}

// TestAllInOneMetrics: the all-in-one `potok` runs two nodes in one process, a signal node and a
// media daemon; its /metrics passes `promtool check metrics`, names both in potok_build_info
// (one per tier), and exports the one NATS connection they share under each node's label.
func TestAllInOneMetrics(t *testing.T) {
	t.Parallel()
	promtool := promproc.Tool(t, "promtool")
	bin := potokBinary(t)
	p := startProcess(t, bin, "", "--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--signal-node-id", "signal-one", "--mediad-node-id", "mediad-one",
		"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only")
	url := "http://" + p.waitAddr(t, "http listening") + "/metrics"
	promtoolCheckMetrics(t, promtool, url)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	series := func(name string) []string {
		var out []string
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, name+"{") {
				out = append(out, line)
			}
		}
		return out
	}
	build := strings.Join(series("potok_build_info"), "\n")
	for _, want := range []string{`node="signal-one",tier="signal"`, `node="mediad-one",tier="mediad"`} {
		if !strings.Contains(build, want) {
			t.Errorf("potok_build_info has no %s:\n%s", want, build)
		}
	}
	nats := strings.Join(series("potok_nats_connected"), "\n")
	if n := len(series("potok_nats_connected")); n != 2 || !strings.Contains(nats, `node="signal-one"`) || !strings.Contains(nats, `node="mediad-one"`) {
		t.Errorf("potok_nats_connected, want one series per node:\n%s", nats)
	}
	for _, m := range []struct{ name, node string }{
		{"potok_signal_ws_connections", "signal-one"}, {"potok_mediad_relays", "mediad-one"},
	} {
		if s := series(m.name); len(s) != 1 || !strings.Contains(s[0], `node="`+m.node+`"`) {
			t.Errorf("%s: %v, want one series labelled node=%q", m.name, s, m.node)
		}
	}
	p.terminate(t)
}
