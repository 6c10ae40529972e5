package codec

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// ffmpegStream encodes a few frames of ffmpeg's test source into dir/name, or skips the test when
// ffmpeg is not installed (the hex fixtures above cover the parsers without it).
func ffmpegStream(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(bin, append(append([]string{"-loglevel", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// TestVP8StreamFromFFmpeg packetizes a real libvpx stream with pion's VP8 payloader (15-bit
// picture ids, as browsers send) and checks that exactly the key frames are detected.
func TestVP8StreamFromFFmpeg(t *testing.T) {
	path := ffmpegStream(t, "v.ivf", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "1",
		"-c:v", "libvpx", "-g", "10", "-deadline", "realtime", "-f", "ivf")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	pay := &codecs.VP8Payloader{EnablePictureID: true}
	frames, keys, keyPackets := 0, 0, 0
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames++
		if frame[0]&1 == 0 {
			keys++
		}
		for _, p := range pay.Payload(200, frame) {
			if w, h, ok := VP8Keyframe(p); ok {
				keyPackets++
				if w != 320 || h != 240 {
					t.Fatalf("key frame size %dx%d, want 320x240", w, h)
				}
			}
		}
	}
	if frames != 30 || keys < 3 || keyPackets != keys {
		t.Fatalf("frames=%d keyframes=%d detected=%d", frames, keys, keyPackets)
	}
}

// TestH264StreamFromFFmpeg packetizes real libx264 streams (several profiles) with pion's H.264
// payloader, which sends SPS/PPS in a STAP-A and big slices as FU-A, and checks the detection.
func TestH264StreamFromFFmpeg(t *testing.T) {
	cases := []struct{ size, profile, pixfmt string }{
		{"320x240", "baseline", "yuv420p"},
		{"640x360", "high", "yuv420p"},
		{"854x480", "high444", "yuv444p"},
	}
	for _, c := range cases {
		t.Run(c.profile, func(t *testing.T) {
			path := ffmpegStream(t, "v.h264", "-f", "lavfi", "-i", "testsrc=size="+c.size+":rate=30",
				"-t", "1", "-c:v", "libx264", "-profile:v", c.profile, "-pix_fmt", c.pixfmt, "-g", "10",
				"-bsf:v", "h264_mp4toannexb", "-f", "h264")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := h264reader.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			pay := &codecs.H264Payloader{}
			idrs, keyPackets, sized := 0, 0, 0
			for {
				nal, err := r.NextNAL()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr {
					idrs++
				}
				for _, p := range pay.Payload(1200, nal.Data) {
					w, h, key, ok := H264Keyframe(p)
					if !ok {
						t.Fatalf("payload %x rejected", p[:2])
					}
					if key {
						keyPackets++
					}
					if w != 0 {
						sized++
						if got := strconv.Itoa(w) + "x" + strconv.Itoa(h); got != c.size {
							t.Fatalf("size %s, want %s", got, c.size)
						}
					}
				}
			}
			if idrs < 3 || sized < 3 || keyPackets < idrs {
				t.Fatalf("idr=%d key packets=%d sized=%d", idrs, keyPackets, sized)
			}
		})
	}
}
