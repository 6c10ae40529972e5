package signal_test

import (
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
)

// A node without SIP (no --sip-listen) answers every call message at once (docs/protocol.md
// §B.12): a call ends with finish FAILED naming why, messages about a call it does not have end
// or fail it, the call features it lacks say so; and a connection asking for SIP registration
// gets a failed registration (§C.4). No page waits for an answer that cannot come.
func TestCallsAnsweredWithoutSIP(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	finish := map[string]wcs.CallStatus{
		wcs.MsgCall:   {Status: wcs.CallFailed, Info: wcs.InfoSIPNotConfigured},
		wcs.MsgAnswer: {Status: wcs.CallFailed, Info: wcs.InfoCallNotFound},
		wcs.MsgHangup: {Status: wcs.CallFinish, Info: wcs.InfoNormalCallClearing},
	}
	for _, msg := range []string{wcs.MsgCall, wcs.MsgAnswer, wcs.MsgHangup} {
		c.send(msg, map[string]any{"callId": "call-" + msg, "callee": "1001", "sdp": "v=0\r\n"})
		var st wcs.CallStatus
		c.expect(wcs.MsgFinish).arg(t, 0, &st)
		want := finish[msg]
		if st.CallID != "call-"+msg || st.Status != want.Status || st.Info != want.Info {
			t.Errorf("%s: finish %+v, want %+v", msg, st, want)
		}
	}
	fails := map[string]string{
		wcs.MsgHold:     wcs.InfoCallNotFound,
		wcs.MsgUnhold:   wcs.InfoCallNotFound,
		wcs.MsgTransfer: wcs.InfoCallNotFound,
		wcs.MsgSendDtmf: wcs.InfoCallNotFound,
	}
	for _, msg := range []string{wcs.MsgHold, wcs.MsgUnhold, wcs.MsgTransfer, wcs.MsgSendDtmf} {
		c.send(msg, map[string]any{"callId": "call-" + msg, "target": "1002", "dtmf": "5"})
		if f := c.fail(); f.Info != fails[msg] {
			t.Errorf("%s: fail %+v, want %q", msg, f, fails[msg])
		}
	}
	c.send(wcs.MsgCall, map[string]any{"callee": "1001"})
	if f := c.fail(); f.Info != "Bad call message: no callId" {
		t.Errorf("call without callId: fail %+v", f)
	}
}

func TestSIPRegistrationFailsAtOnce(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(map[string]any{"sipLogin": "1001", "sipRegisterRequired": true})
	if f := c.fail(); f.APIMethod != wcs.APIRegistrationStatus || f.Status != wcs.StatusFailed ||
		f.Info != wcs.InfoSIPNotConfigured {
		t.Errorf("registration: fail %+v", f)
	}
	// Without sipRegisterRequired nothing but the echo comes.
	other := e.dial(t)
	other.connect(map[string]any{"sipLogin": "1001", "sipRegisterRequired": false})
	other.quiet(100 * time.Millisecond)
}

// MSE and WSPlayer need media over the WebSocket, which Potok does not serve: FAILED with the
// provider named, not "Failed by error".
func TestNonWebRTCProvidersFailClearly(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	for _, p := range []string{"MSE", "WSPlayer"} {
		req := playReq("p-"+p, "s1")
		req["mediaProvider"] = p
		delete(req, "sdp")
		c.send(wcs.MsgPlayStream, req)
		st := c.streamStatus()
		if st.MediaSessionID != "p-"+p || st.Status != wcs.StatusFailed || st.Info != wcs.InfoMediaProviderNotSupported+p {
			t.Errorf("%s play: %+v", p, st)
		}
	}
}
