package clustertest

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// TestH264PublishPlay publishes an ffmpeg H.264 Annex-B file and checks that a player receives
// key frames whose SPS gives the encoded size, and can record a decodable H.264 stream.
func TestH264PublishPlay(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (scripts/deps.sh installs it)")
	}
	in := filepath.Join(t.TempDir(), "in.h264")
	run(t, ffmpeg, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "3", "-pix_fmt", "yuv420p",
		"-c:v", "libx264", "-profile:v", "baseline", "-g", "30", "-bsf:v", "h264_mp4toannexb", "-f", "h264", in)
	video, err := media.NewH264Source(open(t, in), 30, true)
	if err != nil {
		t.Fatal(err)
	}
	c := cluster.Start(t, cluster.Options{})
	ctx := testCtx(t)
	pubSess, err := wasmclient.Connect(ctx, c.WSURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pubSess.Close()
	pub, err := pubSess.Publish(ctx, wasmclient.PublishOptions{Name: "h264", Video: video, Audio: media.NewSilentOpus(0)})
	if err != nil {
		t.Fatal(err)
	}
	if obj, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil || obj.VideoCodec != "H264" {
		t.Fatalf("publish: %+v %v", obj, err)
	}
	s, err := wasmclient.Connect(ctx, c.WSURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(t.TempDir(), "rec.h264")
	st, err := s.Play(ctx, wasmclient.PlayOptions{Name: "h264", RecordFile: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an H.264 key frame with a 320x240 SPS and 45 frames sent", func() bool {
		r := st.ReceiveStats()
		return r.VideoCodec == "video/H264" && r.Keyframes > 0 && r.Width == 320 && r.Height == 240 && pub.SendStats().Video.Frames > 45
	})
	_ = s.Close()
	checkRecording(t, rec)
}
