package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/testkit/backend"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// TestMetricConventions: every potok_ family a signal node and a media daemon register, once they
// have carried a publisher, a player and a REST request, follows the naming conventions (tier
// prefix, units, _total counters, help), is clean for promlint (what `promtool check metrics`
// runs), and no label carries the stream name, a session or media session id or the client's
// address the traffic used.
func TestMetricConventions(t *testing.T) {
	b := backend.Start(t)
	c := cluster.Start(t, cluster.Options{Apps: []rest.App{b.App("hooks", hooks.AllMethods()...)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	forbidden := Traffic(ctx, t, c.WSURLs[0], c.RESTURLs[0], "hooks")

	families, err := c.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	// The families the dashboards need from both tiers are registered by then.
	for _, want := range []string{"potok_signal_ws_connections_closed_total", "potok_signal_stream_setup_duration_seconds",
		"potok_signal_mediad_rpc_duration_seconds", "potok_signal_rest_requests_total", "potok_mediad_rtp_sent_packets_total",
		"potok_mediad_play_first_keyframe_seconds", "potok_mediad_forwarding_latency_seconds", "potok_heartbeat_age_seconds",
		"potok_nats_connected", "potok_signal_hook_requests_total", "potok_signal_hook_duration_seconds"} {
		if !names[want] {
			t.Errorf("%s not registered", want)
		}
	}
	for _, err := range CheckFamilies(families, forbidden) {
		t.Error(err)
	}
	// The README's metric list names every family.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	if i := strings.Index(section, "\n## Monitoring\n"); i >= 0 {
		section = section[i:]
		if j := strings.Index(section[1:], "\n## "); j >= 0 {
			section = section[:j+1]
		}
	}
	for name := range names {
		if strings.HasPrefix(name, "potok_") && !strings.Contains(section, "`"+name+"`") {
			t.Errorf("README.md \"Monitoring\" does not list %s", name)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestCheckFamiliesCatches: the checker itself refuses what the conventions forbid.
func TestCheckFamiliesCatches(t *testing.T) {
	reg := prometheus.NewRegistry()
	counter := func(name string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "h"}, labels)
		reg.MustRegister(c)
		return c
	}
	counter("potok_streams_total").WithLabelValues().Inc()
	counter("potok_signal_joins").WithLabelValues().Inc()
	counter("potok_mediad_packets_total", "stream_name").WithLabelValues("cam1").Inc()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "potok_mediad_setup", Help: "h"})
	h.Observe(1)
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "potok_signal_sessions", Help: "h"}, []string{"reason"})
	g.WithLabelValues("192.0.2.1").Inc()
	g.WithLabelValues("s3cr3t-session").Inc()
	reg.MustRegister(h, g)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range CheckFamilies(families, []string{"s3cr3t-session"}) {
		got = append(got, e.Error())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"potok_streams_total: neither potok_signal_",
		"potok_signal_joins: a counter must end with _total",
		"potok_mediad_setup: a histogram must end with its unit",
		`potok_mediad_packets_total: label "stream_name" names`,
		`potok_signal_sessions: label reason="192.0.2.1" is an IP address`,
		`potok_signal_sessions: label reason="s3cr3t-session" is a stream name`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q among:\n%s", want, joined)
		}
	}
}

// Traffic drives a signal node as the dashboards expect it: sessions of appKey, a publisher and a
// player of one stream until the player has video, a REST API request, a failed play. It
// returns what no label may carry: the stream name, the session and media session ids, the
// client address.
func Traffic(ctx context.Context, t testing.TB, wsURL, restURL, appKey string) (forbidden []string) {
	t.Helper()
	name := "metrics-probe-" + strings.ReplaceAll(t.Name(), "/", "-")
	pubSess := connect(ctx, t, wsURL, wasmclient.SessionOptions{AppKey: appKey})
	video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240, Bitrate: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pubSess.Publish(ctx, wasmclient.PublishOptions{Name: name, Video: video, Audio: media.NewSilentOpus(0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatalf("publish: %v", err)
	}
	playSess := connect(ctx, t, wsURL, wasmclient.SessionOptions{AppKey: appKey})
	player, err := playSess.Play(ctx, wasmclient.PlayOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := player.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatalf("play: %v", err)
	}
	testwait.UntilOK(t, 20*time.Second, "video at the player", func() error {
		if rs := player.ReceiveStats(); rs.Keyframes < 1 || rs.VideoPackets < 30 {
			return fmt.Errorf("have %+v", rs)
		}
		return nil
	})
	missing, err := playSess.Play(ctx, wasmclient.PlayOptions{Name: name + "-missing"})
	if err == nil {
		_, _ = missing.WaitStatus(ctx, wcs.StatusFailed)
	}
	resp, err := http.Post(restURL+"/rest-api/stream/find_all", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	forbidden = []string{name, name + "-missing", "127.0.0.1", pub.MediaSessionID(), player.MediaSessionID()}
	for _, s := range []*wasmclient.Session{pubSess, playSess} {
		var id string
		if json.Unmarshal(s.UserData()["sessionId"], &id) == nil && id != "" {
			forbidden = append(forbidden, id)
		}
	}
	return forbidden
}

func connect(ctx context.Context, t testing.TB, url string, o wasmclient.SessionOptions) *wasmclient.Session {
	t.Helper()
	s, err := wasmclient.Connect(ctx, url, o)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
