package clustertest

import (
	"slices"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// TestMuteVideo: the native publisher's MuteVideo stops its video (the pump skips frames) and
// tells the player (notifyStreamEvent videoMuted); UnmuteVideo resumes it with a key frame.
func TestMuteVideo(t *testing.T) {
	c := cluster.Start(t, cluster.Options{})
	ctx := testCtx(t)
	s, err := wasmclient.Connect(ctx, c.WSURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := s.Publish(ctx, wasmclient.PublishOptions{Name: "mute", Video: video})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	st, err := s.Play(ctx, wasmclient.PlayOptions{Name: "mute"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatal(err)
	}
	eventually(t, "video", func() bool { return st.ReceiveStats().VideoPackets > 20 })
	saw := func(typ string) func() bool {
		return func() bool {
			return slices.ContainsFunc(st.StreamEvents(), func(e wcs.StreamEvent) bool { return e.Type == typ })
		}
	}
	if err := pub.MuteVideo(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "videoMuted at the player", saw(wasmclient.EventVideoMuted))
	frames := pub.SendStats().Video.Packets
	time.Sleep(300 * time.Millisecond) // a window in which a muted pump must send nothing
	if sent := pub.SendStats().Video.Packets; sent != frames {
		t.Errorf("muted, the publisher sent %d video packets", sent-frames)
	}
	keys := st.ReceiveStats().Keyframes
	if err := pub.UnmuteVideo(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "videoUnmuted, then a key frame", func() bool {
		return saw(wasmclient.EventVideoUnmuted)() && st.ReceiveStats().Keyframes > keys
	})
	if err := pub.MuteAudio(ctx); err == nil {
		t.Error("MuteAudio of a stream without audio succeeded")
	}
}
