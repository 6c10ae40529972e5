package signal_test

import (
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
)

// Until SIP exists every call message ends its call with finish FAILED (docs/protocol.md §B.12),
// and a connection asking for SIP registration gets a failed registration (§C.4): no page waits.
func TestCallsEndAtOnceWithoutSIP(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(nil)
	for _, msg := range []string{wcs.MsgCall, wcs.MsgAnswer, wcs.MsgHangup, wcs.MsgHold, wcs.MsgUnhold,
		wcs.MsgTransfer, wcs.MsgSendDtmf} {
		c.send(msg, map[string]any{"callId": "call-" + msg, "callee": "1001", "sdp": "v=0\r\n"})
		var st wcs.CallStatus
		c.expect(wcs.MsgFinish).arg(t, 0, &st)
		if st.CallID != "call-"+msg || st.Status != wcs.CallFailed || st.Info != wcs.InfoCallsNotSupported {
			t.Errorf("%s: finish %+v", msg, st)
		}
	}
	c.send(wcs.MsgCall, map[string]any{"callee": "1001"})
	if f := c.fail(); f.Info != wcs.InfoCallsNotSupported {
		t.Errorf("call without callId: fail %+v", f)
	}
}

func TestSIPRegistrationFailsAtOnce(t *testing.T) {
	e := newEnv(t, signal.Config{})
	c := e.dial(t)
	c.connect(map[string]any{"sipLogin": "1001", "sipRegisterRequired": true})
	if f := c.fail(); f.APIMethod != wcs.APIRegistrationStatus || f.Status != wcs.StatusFailed ||
		f.Info != wcs.InfoSIPRegistrationNotSupported {
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
