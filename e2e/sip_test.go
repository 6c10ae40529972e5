package e2e

import (
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/sipfix"
)

// TestWebSDKSIPSuite runs the WebSDK's own SIP suite (test/sip-test.js of the npm package,
// unmodified) against Potok with kamailio as the registrar: "should register" (3000 REGISTERED)
// and "outgoing and incoming call" (3000 calls 3001 through the registrar; both legs are bridged
// by Potok's media daemon; 3001 answers after 1 s, 3000 hangs up after 10 s of ESTABLISHED and
// both get FINISH). The suite's accounts have no port: the registrar must be on the server's
// host at 5060.
func TestWebSDKSIPSuite(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	if c, err := net.ListenPacket("udp", "127.0.0.1:5060"); err != nil {
		t.Fatalf("the WebSDK's SIP suite needs 127.0.0.1:5060 for its registrar: %v", err)
	} else {
		_ = c.Close()
	}
	sipfix.KamailioOn(t, true, 5060)
	c := cluster.Start(t, cluster.Options{SIP: true})
	base := serveAssets(t)
	b, ctx := launch(t, 3*time.Minute)
	start := time.Now()
	if err := b.Navigate(ctx, base+"/sip-mocha.html?"+pageQuery(url.Values{"ws": {c.WSURL}})); err != nil {
		t.Fatal(err)
	}
	var res mochaResult
	waitResult(t, b, ctx, 2*time.Minute, &res)
	order, state := res.byTest()
	for _, title := range order {
		e := state[title]
		if e.State == "failed" {
			t.Errorf("FAIL %s (%d ms): %s", title, e.Ms, e.Error)
		} else {
			t.Logf("ok   %-50s %6d ms", title, e.Ms)
		}
	}
	for _, h := range res.Failures {
		t.Errorf("hook failed: %s: %s", h.FullTitle, h.Error)
	}
	if len(order) != 2 {
		t.Errorf("%d tests ran, want the suite's 2", len(order))
	}
	t.Logf("SIP suite done in %v", time.Since(start).Round(time.Millisecond))
}
