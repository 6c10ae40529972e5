package clustertest

import (
	"testing"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// TestTCPTransport publishes and plays with Transport "TCP" (the WebSDK's transport option):
// the client keeps only the answer's ICE-TCP candidate (pion dials it as an active candidate),
// so video that arrives came over TCP.
func TestTCPTransport(t *testing.T) {
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
	pub, err := s.Publish(ctx, wasmclient.PublishOptions{Name: "tcp", Video: video, Audio: media.NewSilentOpus(0), Transport: "TCP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	st, err := s.Play(ctx, wasmclient.PlayOptions{Name: "tcp", Transport: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a 320x240 key frame over ICE-TCP", func() bool {
		r := st.ReceiveStats()
		return r.Keyframes > 0 && r.Width == 320 && r.Height == 240
	})
	if _, err := s.Play(ctx, wasmclient.PlayOptions{Name: "tcp", Transport: "QUIC"}); err == nil {
		t.Error("transport QUIC accepted")
	}
}
