package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestBrowserLoopback checks the launcher's flags without any Potok server (docs/protocol.md §P.4): the fake
// camera opens, ICE offers a raw 127.0.0.1 host candidate and no mDNS name, and video between two
// in-page peer connections is decoded. When this fails, the WebSDK tests cannot tell us about Potok.
func TestBrowserLoopback(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	base := serveAssets(t)
	b, ctx := launch(t, time.Minute)

	start := time.Now()
	if err := b.Navigate(ctx, base+"/loopback.html"); err != nil {
		t.Fatal(err)
	}
	var res struct {
		OK            bool     `json:"ok"`
		Error         string   `json:"error"`
		Candidates    []string `json:"candidates"`
		FramesDecoded int      `json:"framesDecoded"`
		Codec         string   `json:"codec"`
		GumMs         int      `json:"gumMs"`
		FirstFrameMs  int      `json:"firstFrameMs"`
	}
	waitResult(t, b, ctx, 30*time.Second, &res)
	t.Logf("getUserMedia %d ms, first decoded frame %d ms (%s, %d frames), page done in %v",
		res.GumMs, res.FirstFrameMs, res.Codec, res.FramesDecoded, time.Since(start).Round(time.Millisecond))
	for _, c := range res.Candidates {
		t.Logf("candidate: %s", c)
	}
	if !res.OK {
		t.Fatalf("page failed: %s", res.Error)
	}
	var loopback bool
	for _, c := range res.Candidates {
		if strings.Contains(c, ".local ") {
			t.Errorf("mDNS candidate despite WebRtcHideLocalIpsWithMdns disabled: %s", c)
		}
		if strings.Contains(c, " 127.0.0.1 ") && strings.Contains(c, "typ host") {
			loopback = true
		}
	}
	if !loopback {
		t.Error("no 127.0.0.1 host candidate: --allow-loopback-in-peer-connection not in effect")
	}
	if res.FramesDecoded <= 0 {
		t.Errorf("framesDecoded = %d, want > 0", res.FramesDecoded)
	}
}
