package metrics

import (
	"testing"

	"github.com/potok-media/potok/api/wcs"
)

// TestLabels: label values come from closed sets; anything else is "other".
func TestLabels(t *testing.T) {
	frame := func(msg string) []byte {
		b, err := wcs.Encode(msg, map[string]any{"x": 1})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		got, want string
	}{
		{SentLabel(frame(wcs.MsgGetUserData)), wcs.MsgGetUserData},
		{SentLabel(frame(wcs.MsgNotifyStreamStatusEvent)), wcs.MsgNotifyStreamStatusEvent},
		{SentLabel([]byte(`{"message":"ping","data":[]}`)), wcs.MsgPing},
		{SentLabel(frame("my-stream-name")), "other"},
		{SentLabel([]byte(`garbage`)), "other"},
		{SentLabel([]byte(`{"message":"`)), "other"},
		{MessageLabel(wcs.MsgPublishStream), wcs.MsgPublishStream},
		{MessageLabel("session-3f2a"), "other"},
		{StatusLabel(wcs.StatusFailed), wcs.StatusFailed},
		{StatusLabel("192.0.2.1"), "other"},
	} {
		if c.got != c.want {
			t.Errorf("label %q, want %q", c.got, c.want)
		}
	}
	f := frame(wcs.MsgOutboundVideoRate)
	if n := testing.AllocsPerRun(100, func() { _ = SentLabel(f) }); n != 0 {
		t.Errorf("SentLabel allocates %v times per frame", n)
	}
}
