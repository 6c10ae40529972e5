package clustertest

import (
	"testing"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// TestAvailableStream: availableStream (docs/protocol.md §C.10) is true for a published name and
// false with "Stream not found" for another.
func TestAvailableStream(t *testing.T) {
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
	pub, err := s.Publish(ctx, wasmclient.PublishOptions{Name: "here", Video: video})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	if ok, info, err := s.AvailableStream(ctx, "here"); err != nil || !ok {
		t.Errorf("published stream: %v %q %v", ok, info, err)
	}
	if ok, info, err := s.AvailableStream(ctx, "nobody"); err != nil || ok || info != wcs.InfoStreamNotFound {
		t.Errorf("unknown stream: %v %q %v", ok, info, err)
	}
}
