package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/potok-media/potok/internal/codec"
)

// capture is an RTPWriter that keeps copies of the packets.
type capture struct{ pkts []rtp.Packet }

func (c *capture) WriteRTP(p *rtp.Packet) error {
	cp := *p
	cp.Payload = append([]byte(nil), p.Payload...)
	c.pkts = append(c.pkts, cp)
	return nil
}

// pumpAll runs src through a Pump as fast as its frame durations allow.
func pumpAll(t *testing.T, src Source) (*capture, PumpStats) {
	t.Helper()
	var c capture
	p, err := NewPump(src, &c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return &c, p.Stats()
}

func TestSyntheticVP8KeyframeHeaderParsesWithCodec(t *testing.T) {
	for _, size := range [][2]int{{640, 480}, {1920, 1080}, {16383, 1}, {321, 241}} {
		src, err := NewSyntheticVP8(SyntheticVP8Options{Width: size[0], Height: size[1], FPS: 100, Bitrate: 2_000_000,
			KeyframeInterval: 5, Duration: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c, st := pumpAll(t, src)
		if st.Frames != 10 || st.Keyframes != 2 {
			t.Fatalf("%v: frames %d keyframes %d, want 10 and 2", size, st.Frames, st.Keyframes)
		}
		keys := 0
		for _, p := range c.pkts {
			if w, h, ok := codec.VP8Keyframe(p.Payload); ok {
				keys++
				if w != size[0] || h != size[1] {
					t.Fatalf("keyframe says %dx%d, want %v", w, h, size)
				}
			}
		}
		if keys != 2 {
			t.Fatalf("%v: codec found %d key frame starts, want 2", size, keys)
		}
	}
}

func TestSyntheticVP8RateAndPacketization(t *testing.T) {
	const fps, bitrate = 50, 1_000_000
	src, err := NewSyntheticVP8(SyntheticVP8Options{Width: 640, Height: 480, FPS: fps, Bitrate: bitrate, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, st := pumpAll(t, src)
	if st.Frames != 2*fps {
		t.Fatalf("frames %d, want %d", st.Frames, 2*fps)
	}
	// Payload bytes include the VP8 payload descriptors (4 bytes with a 15-bit picture id).
	media := st.Bytes - 4*st.Packets
	if want := uint64(2 * bitrate / 8); media < want*95/100 || media > want*105/100 {
		t.Fatalf("sent %d media bytes in 2 s, want about %d", media, want)
	}
	markers, lastTS := 0, c.pkts[0].Timestamp
	for i, p := range c.pkts {
		if len(p.Payload) > MTU {
			t.Fatalf("packet %d payload %d bytes over MTU", i, len(p.Payload))
		}
		if p.Marker {
			markers++
		}
		if i > 0 && p.SequenceNumber != c.pkts[i-1].SequenceNumber+1 {
			t.Fatalf("sequence gap at %d", i)
		}
		if p.Timestamp != lastTS {
			if d := p.Timestamp - lastTS; d != 90000/fps {
				t.Fatalf("timestamp step %d, want %d", d, 90000/fps)
			}
			lastTS = p.Timestamp
		}
	}
	if markers != 2*fps {
		t.Fatalf("%d marker bits, want one per frame (%d)", markers, 2*fps)
	}
}

func TestSyntheticVP8KeyframeOnRequest(t *testing.T) {
	src, err := NewSyntheticVP8(SyntheticVP8Options{Width: 64, Height: 64, KeyframeInterval: 1000})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := src.Next()
	if !f.Keyframe {
		t.Fatal("first frame is not a keyframe")
	}
	if f, _ = src.Next(); f.Keyframe || f.Data[0]&1 != 1 {
		t.Fatal("second frame should be an inter frame")
	}
	src.RequestKeyframe()
	if f, _ = src.Next(); !f.Keyframe || f.Data[0]&1 != 0 {
		t.Fatal("frame after RequestKeyframe is not a keyframe")
	}
}

func TestSyntheticVP8RejectsBadOptions(t *testing.T) {
	for _, o := range []SyntheticVP8Options{
		{Width: 0, Height: 480}, {Width: 640, Height: 16384}, {Width: 640, Height: 480, FPS: -1},
		{Width: 640, Height: 480, Bitrate: -5}, {Width: 640, Height: 480, KeyframeInterval: -1},
	} {
		if _, err := NewSyntheticVP8(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestSilentOpus(t *testing.T) {
	c, st := pumpAll(t, NewSilentOpus(200*time.Millisecond))
	if st.Packets != 10 || len(c.pkts) != 10 {
		t.Fatalf("%d packets, want 10", st.Packets)
	}
	if d := c.pkts[1].Timestamp - c.pkts[0].Timestamp; d != 960 {
		t.Fatalf("timestamp step %d, want 960 (20 ms at 48 kHz)", d)
	}
	if got := OpusPacketDuration(c.pkts[0].Payload); got != 20*time.Millisecond {
		t.Fatalf("silent packet lasts %v", got)
	}
}

func TestOpusPacketDuration(t *testing.T) {
	cases := []struct {
		p    []byte
		want time.Duration
	}{
		{[]byte{0xf8}, 20 * time.Millisecond},       // CELT FB 20 ms, 1 frame
		{[]byte{0xfb, 0x03}, 60 * time.Millisecond}, // CELT 20 ms, code 3, 3 frames
		{[]byte{0x08}, 20 * time.Millisecond},       // SILK NB 20 ms
		{[]byte{0x18 | 1}, 120 * time.Millisecond},  // SILK 60 ms, two frames
		{[]byte{0x60}, 10 * time.Millisecond},       // hybrid SWB 10 ms
		{[]byte{0x80}, 2500 * time.Microsecond},     // CELT 2.5 ms
		{[]byte{}, 20 * time.Millisecond},           // empty: default
		{[]byte{0xfb}, 20 * time.Millisecond},       // code 3 without count byte
		{[]byte{0xfb, 0x00}, 20 * time.Millisecond}, // zero frames
	}
	for _, c := range cases {
		if got := OpusPacketDuration(c.p); got != c.want {
			t.Errorf("% x: %v, want %v", c.p, got, c.want)
		}
	}
}

// oggPage builds one Ogg page with the given packets (lacing per RFC 3533); continued sets the
// continuation flag. The CRC is left zero: the reader does not check it.
func oggPage(serial uint32, continued bool, segments ...[]byte) []byte {
	var lacing, body []byte
	for _, s := range segments {
		body = append(body, s...)
		n := len(s)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
	}
	h := make([]byte, 27)
	copy(h, "OggS")
	if continued {
		h[5] = 1
	}
	binary.LittleEndian.PutUint32(h[14:], serial)
	h[26] = byte(len(lacing))
	return append(append(h, lacing...), body...)
}

func TestOggPacketReaderSplitsPackets(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 600)
	var f bytes.Buffer
	f.Write(oggPage(1, false, []byte("OpusHead-----------")))
	f.Write(oggPage(1, false, []byte("OpusTags")))
	f.Write(oggPage(1, false, []byte{0xf8, 1}, big, []byte{0xf8, 2}))
	f.Write(oggPage(9, false, []byte("other stream")))
	f.Write(oggPage(1, false, []byte{0xf8, 3}))
	src, err := NewOggOpusSource(bytes.NewReader(f.Bytes()), false)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for {
		fr, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fr.Data)
	}
	if len(got) != 4 || len(got[1]) != 600 || got[3][1] != 3 {
		t.Fatalf("packets %d (sizes %v), want 4 with the 600-byte one second", len(got), sizes(got))
	}
}

func TestOggRejectsNonOpus(t *testing.T) {
	var f bytes.Buffer
	f.Write(oggPage(1, false, []byte("\x01vorbis")))
	if _, err := NewOggOpusSource(bytes.NewReader(f.Bytes()), false); !errors.Is(err, ErrBadFile) {
		t.Fatalf("vorbis accepted: %v", err)
	}
	if _, err := NewOggOpusSource(bytes.NewReader([]byte("not ogg at all, not at all")), false); !errors.Is(err, ErrBadFile) {
		t.Fatalf("garbage accepted: %v", err)
	}
}

func sizes(ps [][]byte) []int {
	var s []int
	for _, p := range ps {
		s = append(s, len(p))
	}
	return s
}

// ffmpegFile encodes a test file with ffmpeg into a temp dir, skipping when ffmpeg is absent
// (scripts/deps.sh installs it for CI).
func ffmpegFile(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (scripts/deps.sh installs it)")
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(bin, append(append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestIVFSourceFromFFmpeg(t *testing.T) {
	path := ffmpegFile(t, "in.ivf", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "1",
		"-c:v", "libvpx", "-b:v", "300k", "-g", "10")
	src, err := NewIVFSource(open(t, path), false)
	if err != nil {
		t.Fatal(err)
	}
	c, st := pumpAll(t, src)
	if st.Frames != 30 || st.Keyframes < 3 {
		t.Fatalf("frames %d keyframes %d, want 30 frames and >= 3 keyframes", st.Frames, st.Keyframes)
	}
	w, h, ok := codec.VP8Keyframe(c.pkts[0].Payload)
	if !ok || w != 320 || h != 240 {
		t.Fatalf("first packet: %dx%d key=%v, want a 320x240 keyframe", w, h, ok)
	}
	if d := c.pkts[len(c.pkts)-1].Timestamp - c.pkts[0].Timestamp; d != 29*3000 {
		t.Fatalf("RTP time span %d, want %d (29 frames at 30 fps)", d, 29*3000)
	}
}

func TestIVFSourceLoops(t *testing.T) {
	path := ffmpegFile(t, "in.ivf", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-t", "0.2",
		"-c:v", "libvpx", "-g", "3")
	src, err := NewIVFSource(open(t, path), true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // 6 frames per pass: three passes and more
		if _, err := src.Next(); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
}

func TestH264SourceFromFFmpeg(t *testing.T) {
	path := ffmpegFile(t, "in.h264", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "1",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", "baseline", "-g", "15", "-bsf:v", "h264_mp4toannexb", "-f", "h264")
	src, err := NewH264Source(open(t, path), 30, false)
	if err != nil {
		t.Fatal(err)
	}
	c, st := pumpAll(t, src)
	if st.Frames != 30 || st.Keyframes != 2 {
		t.Fatalf("frames %d keyframes %d, want 30 and 2", st.Frames, st.Keyframes)
	}
	found := false
	for _, p := range c.pkts {
		if w, h, key, ok := codec.H264Keyframe(p.Payload); ok && key && w > 0 {
			if w != 320 || h != 240 {
				t.Fatalf("SPS says %dx%d", w, h)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no packet carried an SPS the codec package could read")
	}
}

func TestOggOpusSourceFromFFmpeg(t *testing.T) {
	path := ffmpegFile(t, "in.ogg", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1",
		"-c:a", "libopus", "-b:a", "32k")
	src, err := NewOggOpusSource(open(t, path), false)
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	n := 0
	for {
		f, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += f.Duration
		n++
	}
	// One second of audio in 20 ms packets (libopus adds a few packets of pre-skip/padding).
	if n < 50 || n > 53 || total < time.Second || total > 1100*time.Millisecond {
		t.Fatalf("%d packets lasting %v, want ~50 packets and ~1 s", n, total)
	}
}
