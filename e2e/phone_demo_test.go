package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/sipfix"
	"github.com/potok-media/potok/testkit/testwait"
)

// TestWebSDKPhoneDemo drives the WebSDK's own phone demo (examples/demo/sip/phone/phone.html of
// the npm package, unmodified) as a person would: it fills the connection form (the server, the
// account alice on kamailio, "Register required"), clicks Connect and sees REGISTERED, calls a
// sipp phone that echoes RTP (Call: ESTABLISHED), holds and resumes the call (the Hold button
// comes back each time the call says so), hangs up (FINISH: the phone gets our BYE and ends its
// call successfully) and disconnects (DISCONNECTED).
func TestWebSDKPhoneDemo(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas", RTPEcho: true})
	base := serveAssets(t)
	b, ctx := launch(t, 2*time.Minute)
	if err := b.Navigate(ctx, base+"/websdk/examples/demo/sip/phone/phone.html"); err != nil {
		t.Fatal(err)
	}
	js := func(what, expr string) {
		t.Helper()
		if _, err := b.EvalJSON(ctx, expr); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait := func(what, cond string, d time.Duration) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		if _, err := b.WaitJSON(wctx, cond, 100*time.Millisecond); err != nil {
			state, _ := b.EvalJSON(ctx, `[$("#regStatus").text(), $("#callStatus").text(), $("#callBtn").text(), $("#holdBtn").text()]`)
			t.Fatalf("%s: %v; page: %s", what, err, state)
		}
	}
	// The page runs its init_page twice, from body onload and once call-controls.html has loaded
	// (which fills in the server URL each time): the form is ready when both have run.
	wait("the form loaded", `document.readyState === "complete" && typeof $ === "function" && $("#callBtn").length === 1 &&
		$("#connectBtn").text() === "Connect" && $("#urlServer").length === 1`, 20*time.Second)

	// What a person types into the form, then Connect.
	fields := map[string]string{"urlServer": c.WSURL, "sipLogin": "alice", "sipAuthenticationName": "alice",
		"sipPassword": sipfix.Accounts["alice"], "sipDomain": "127.0.0.1", "sipOutboundProxy": "127.0.0.1",
		"sipPort": strconv.Itoa(reg.Port)}
	var fill []string
	for id, v := range fields {
		fill = append(fill, fmt.Sprintf(`$("#%s").val(%q);`, id, v))
	}
	js("fill the form", strings.Join(fill, "")+`$("#sipRegisterRequired").prop("checked", true); true`)
	if raw, err := b.EvalJSON(ctx, `$("#urlServer").val()`); err != nil || string(raw) != fmt.Sprintf("%q", c.WSURL) {
		t.Fatalf("the server field holds %s (%v), want %s", raw, err, c.WSURL)
	}
	js("click Connect", `$("#connectBtn").click(); true`)
	wait("REGISTERED", `$("#regStatus").text() === "REGISTERED" && !$("#callBtn").prop("disabled")`, 20*time.Second)

	js("call", fmt.Sprintf(`$("#callee").val(%q); $("#callBtn").click(); true`, "sip:uas@"+phone.Addr()))
	wait("the call ESTABLISHED", `$("#callStatus").text() === "ESTABLISHED" && $("#callBtn").text() === "Hangup"`, 30*time.Second)

	js("click Hold", `$("#holdBtn").click(); true`)
	wait("the hold answered", `$("#holdBtn").text() === "Unhold" && !$("#holdBtn").prop("disabled")`, 15*time.Second)
	if !phone.Received("a=sendonly") {
		t.Errorf("the phone got no re-INVITE with a=sendonly")
	}
	js("click Unhold", `$("#holdBtn").click(); true`)
	wait("the resume answered", `$("#holdBtn").text() === "Hold" && !$("#holdBtn").prop("disabled")`, 15*time.Second)

	js("click Hangup", `$("#callBtn").click(); true`)
	wait("the call FINISH", `$("#callStatus").text() === "FINISH" && $("#callBtn").text() === "Call"`, 15*time.Second)
	if err := phone.Wait(15 * time.Second); err != nil {
		t.Errorf("the phone: %v", err)
	}
	js("click Disconnect", `$("#connectBtn").click(); true`)
	wait("DISCONNECTED", `$("#regStatus").text() === "DISCONNECTED"`, 15*time.Second)
	testwait.Until(t, 15*time.Second, "the call's media gone", func() bool { return c.PeerConnections() == 0 })
}
