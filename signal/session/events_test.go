package session

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/testkit/testwait"
)

// gatedOutbox blocks Send while the gate is held, so a test can keep the session busy.
type gatedOutbox struct {
	recorder
	gate chan struct{}
}

func (g *gatedOutbox) Send(b []byte) bool {
	<-g.gate
	g.gate <- struct{}{}
	return g.recorder.Send(b)
}

// A flood of rate events while the session is busy fills its queue; the state event behind them
// must still arrive, or the stream would stay PENDING (docs/protocol.md §0 rule 10).
func TestStateEventsSurviveAFullQueue(t *testing.T) {
	out := &gatedOutbox{gate: make(chan struct{}, 1)}
	out.gate <- struct{}{} // open
	s := newTestSession(newMemMedia(), out)
	go s.Run()
	defer func() { s.Disconnect(); <-s.Done() }()
	s.Frame([]byte(`{"message":"connection","data":[{}]}`))
	s.Frame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0"}]}`))
	waitFrames(t, &out.recorder, 3) // getUserData, getVersion, setRemoteSDP

	<-out.gate // close: the next send blocks the session
	s.Frame([]byte(`{"message":"sendData","data":[{"operationId":"o1"}]}`))
	owner := control.Owner{SessionID: "sess", MediaSessionID: "m1"}
	for range 4 * eventQueue {
		s.Event(control.MediaEvent{Owner: owner, Kind: control.EventRate, Rate: &control.Rate{VideoRate: 1}})
	}
	s.Event(control.MediaEvent{Owner: owner, Kind: control.EventState, State: control.StateConnected})
	out.gate <- struct{}{} // open

	waitFor(t, &out.recorder, []byte(`"status":"PUBLISHING"`))
}

// waitFor waits until the session has sent a frame containing want.
func waitFor(t *testing.T, out *recorder, want []byte) {
	t.Helper()
	testwait.UntilOK(t, waitTimeout, fmt.Sprintf("a frame with %s", want), func() error {
		out.mu.Lock()
		defer out.mu.Unlock()
		for _, f := range out.frames {
			if bytes.Contains(f, want) {
				return nil
			}
		}
		return fmt.Errorf("not among %d frames", len(out.frames))
	})
}

// sendStreamEvent payloads are copied to every subscriber; an oversized one is refused with a fail.
func TestStreamEventPayloadCap(t *testing.T) {
	out := &recorder{}
	s := newTestSession(newMemMedia(), out)
	go s.Run()
	defer func() { s.Disconnect(); <-s.Done() }()
	s.Frame([]byte(`{"message":"connection","data":[{}]}`))
	s.Frame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0"}]}`))
	waitFrames(t, out, 3)
	big := `"` + strings.Repeat("x", MaxStreamEventPayload) + `"`
	s.Frame([]byte(`{"message":"sendStreamEvent","data":[{"mediaSessionId":"m1","type":"data","payload":` + big + `}]}`))
	waitFor(t, out, []byte("Stream event payload too large"))
}
