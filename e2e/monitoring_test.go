package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/dashboards"
	"github.com/potok-media/potok/testkit/cluster"
	promproc "github.com/potok-media/potok/testkit/prometheus"
	"github.com/potok-media/potok/testkit/testwait"
)

// TestWebSDKMonitored: what a browser does shows in the metrics as Prometheus stores them (issue
// 10: the dashboards are proven with native clients in testkit/scenario and with one browser
// here). Debian's Prometheus scrapes an in-process cluster while Chromium's official WebSDK
// publishes its fake camera and plays it back (web/publish_play.html); then every WCS message the
// WebSDK sent has its own label value (none is "other"), the publish and the play were set up and
// ended with their statuses counted, the player got its first key frame, the publisher's video was
// received and forwarded, and every family still follows the conventions with the page's stream
// name and addresses in no label.
func TestWebSDKMonitored(t *testing.T) {
	requireBrowser(t)
	promproc.Tool(t, "prometheus")
	c := cluster.Start(t, cluster.Options{})
	metrics, err := url.Parse(c.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	prom := promproc.Start(t, promproc.Options{Jobs: map[string][]string{"potok": {metrics.Host}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	testwait.UntilOK(t, 30*time.Second, "the cluster scraped", func() error {
		res, err := prom.Query(ctx, `up{job="potok"} == 1`)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Series) == 0 {
			return fmt.Errorf("not yet")
		}
		return nil
	})

	base := serveAssets(t)
	b, bctx := launch(t, 2*time.Minute)
	name := "monitored-" + randomHex(4)
	publishPlayPage(t, b, bctx, base, url.Values{"ws": {c.WSURL}, "name": {name}})

	for _, v := range []struct {
		expr string
		want func(float64) bool
		what string
	}{
		{`sum(potok_signal_ws_messages_received_total{message="other"}) or vector(0)`, eq(0), "0: every WebSDK message has its name"},
		{`sum(potok_signal_ws_messages_received_total{message="publishStream"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_ws_messages_received_total{message="playStream"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_ws_messages_sent_total{message="other"}) or vector(0)`, eq(0), "0"},
		{`sum(potok_signal_session_setup_duration_seconds_count)`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_stream_setup_duration_seconds_count{kind="publish"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_stream_setup_duration_seconds_count{kind="play"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_stream_statuses_total{kind="publish",status="UNPUBLISHED"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_stream_statuses_total{kind="play",status="STOPPED"})`, atLeast(1), "≥ 1"},
		{`sum(potok_signal_streams)`, eq(0), "0 once the page stopped both"},
		{`sum(potok_mediad_play_first_keyframe_seconds_count)`, atLeast(1), "≥ 1"},
		{`sum(potok_mediad_rtp_received_packets_total{kind="video"})`, atLeast(1), "≥ 1"},
		{`sum(potok_mediad_rtp_sent_packets_total{kind="video"})`, atLeast(1), "≥ 1"},
		{`sum(potok_mediad_media_sessions_started_total{role="publish"})`, atLeast(1), "≥ 1"},
		{`sum(potok_mediad_ice_failures_total)`, eq(0), "0"},
	} {
		testwait.UntilOK(t, 15*time.Second, v.expr+" "+v.what, func() error {
			res, err := prom.Query(ctx, v.expr)
			if err != nil {
				t.Fatalf("%s: %v", v.expr, err)
			}
			if len(res.Series) != 1 {
				return fmt.Errorf("%d series", len(res.Series))
			}
			got, _ := strconv.ParseFloat(res.Series[0].Value, 64)
			if !v.want(got) {
				return fmt.Errorf("%v", got)
			}
			return nil
		})
	}
	families, err := c.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range dashboards.CheckFamilies(families, []string{name, "127.0.0.1"}) {
		t.Error(err)
	}
	values, err := prom.LabelValues(ctx, "message")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("message label values stored: %s", strings.Join(values, " "))
}

func eq(want float64) func(float64) bool     { return func(v float64) bool { return v == want } }
func atLeast(min float64) func(float64) bool { return func(v float64) bool { return v >= min } }
