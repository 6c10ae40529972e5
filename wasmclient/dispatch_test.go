//go:build !js

package wasmclient

import (
	"context"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient/wcstest"
)

// nopPeer stands in for the media side where only signalling is under test.
type nopPeer struct{ answers int }

func (p *nopPeer) offer() string              { return "v=0\r\n" }
func (p *nopPeer) setAnswer(string) error     { p.answers++; return nil }
func (p *nopPeer) close()                     {}
func (p *nopPeer) receiveStats() ReceiveStats { return ReceiveStats{} }
func (p *nopPeer) sendStats() SendStats       { return SendStats{} }
func (p *nopPeer) mute(string, bool) bool     { return false }

// attach registers a signalling-only stream with a fixed id on s.
func attach(s *Session, id string) *Stream {
	st := newStream(s, "n", false)
	st.id, st.obj.MediaSessionID = id, id
	st.peer = &nopPeer{}
	st.status, st.obj.Status = wcs.StatusPending, wcs.StatusPending
	s.mu.Lock()
	s.streams[id] = st
	s.mu.Unlock()
	return st
}

func frame(t testing.TB, msg string, args ...any) []byte {
	b, err := wcs.Encode(msg, args...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamEventsAndRouting(t *testing.T) {
	f := wcstest.New(t)
	s, err := Connect(context.Background(), f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := attach(s, "m1")
	other := attach(s, "m2")
	feed := func(b []byte) {
		env, err := wcs.Decode(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.dispatch(env)
	}
	feed(frame(t, wcs.MsgSetRemoteSDP, "m1", "v=0", true))
	feed(frame(t, wcs.MsgNotifyStreamStatusEvent, wcs.Stream{MediaSessionID: "m1", Status: "PLAYING"}))
	feed(frame(t, wcs.MsgNotifyStreamStatusEvent, wcs.Stream{MediaSessionID: "m1", Status: "RESIZE"})) // deprecated: no change
	feed(frame(t, wcs.MsgNotifyStreamEvent, wcs.StreamEvent{MediaSessionID: "m1", Type: "videoMuted"}))
	feed(frame(t, wcs.MsgOutboundVideoRate, wcs.VideoRate{MediaSessionID: "m1", VideoRate: 5}))
	feed(frame(t, wcs.MsgFail, wcs.Fail{APIMethod: wcs.APIStreamStatusEvent, ID: "m1", Status: "FAILED", Info: "Restricted access"}))
	feed(frame(t, wcs.MsgNotifyStreamStatusEvent, wcs.Stream{MediaSessionID: "m1", Status: "PLAYING"})) // after terminal: ignored
	if st.peer.(*nopPeer).answers != 1 || other.peer.(*nopPeer).answers != 0 {
		t.Fatal("setRemoteSDP not routed by data[0]")
	}
	var kinds []string
	for len(st.Events()) > 0 {
		e := <-st.Events()
		kinds = append(kinds, e.Kind+":"+e.Stream.Status)
	}
	want := []string{"notifyStreamStatusEvent:PLAYING", "notifyStreamStatusEvent:RESIZE", "notifyStreamEvent:",
		"outboundVideoRate:", "fail:FAILED"}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	if st.Status() != wcs.StatusFailed || st.Info() != "Restricted access" || other.Status() != wcs.StatusPending {
		t.Fatalf("status %s %q, other %s", st.Status(), st.Info(), other.Status())
	}
	if s.stream("m1") != nil {
		t.Fatal("terminal stream still routed")
	}
	if len(s.Fails()) != 1 {
		t.Fatalf("fails %v", s.Fails())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := other.WaitStatus(ctx, wcs.StatusPlaying); err == nil {
		t.Fatal("WaitStatus returned without the status")
	}
}

func TestEventsDropWhenUnread(t *testing.T) {
	f := wcstest.New(t)
	s, err := Connect(context.Background(), f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := attach(s, "m1")
	for range eventBuffer + 5 {
		st.onRate(wcs.MsgOutboundVideoRate, wcs.VideoRate{MediaSessionID: "m1"})
	}
	if st.DroppedEvents() != 5 || len(st.Rates()) != eventBuffer+5 {
		t.Fatalf("dropped %d, rates %d", st.DroppedEvents(), len(st.Rates()))
	}
}

// FuzzDispatch feeds arbitrary server frames to a live session: nothing may panic, whatever the
// server sends (docs/protocol.md §H.2 lists how the WebSDK survives bad frames; we must do better).
func FuzzDispatch(f *testing.F) {
	srv := wcstest.New(f)
	s, err := Connect(context.Background(), srv.URL(), SessionOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	for _, seed := range [][]byte{
		frame(f, wcs.MsgSetRemoteSDP, "m1", "v=0", true),
		frame(f, wcs.MsgNotifyStreamStatusEvent, wcs.Stream{MediaSessionID: "m1", Status: "FAILED"}),
		frame(f, wcs.MsgFail, wcs.Fail{APIMethod: wcs.APIStreamStatusEvent, ID: "m1"}),
		frame(f, wcs.MsgNotifyVideoFormat, map[string]any{"mediaSessionId": "m1", "streamerVideoWidth": "x"}),
		frame(f, wcs.MsgGetUserData, map[string]any{"authToken": 5}),
		[]byte(`{"message":"inboundVideoRate","data":[{"mediaSessionId":"m1","videoRate":1e400}]}`),
		[]byte(`{"message":"setRemoteSDP","data":["m1"]}`),
		[]byte(`{"message":"ping"}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		attach(s, "m1")
		env, err := wcs.Decode(b, 0)
		if err != nil {
			return
		}
		s.dispatch(env)
	})
}
