package clustertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/bench"
	"github.com/potok-media/potok/wasmclient/media"
)

const waitFor = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() bool) { testwait.Until(t, waitFor, what, cond) }

func checkGoroutines(t *testing.T, base int) { testwait.Goroutines(t, base, 0, 15*time.Second) }

// sources returns VP8+Opus publisher sources at 320x240: ffmpeg-encoded files when ffmpeg is
// installed (then the recording can be decoded), synthetic frames otherwise.
func sources(t *testing.T) (video, audio media.Source, decodable bool) {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		v, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240, Bitrate: 500_000, KeyframeInterval: 30})
		if err != nil {
			t.Fatal(err)
		}
		return v, media.NewSilentOpus(0), false
	}
	dir := t.TempDir()
	ivf, ogg := filepath.Join(dir, "in.ivf"), filepath.Join(dir, "in.ogg")
	run(t, ffmpeg, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "3", "-c:v", "libvpx", "-b:v", "500k", "-g", "30", ivf)
	run(t, ffmpeg, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3", "-c:a", "libopus", ogg)
	v, err := media.NewIVFSource(open(t, ivf), true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := media.NewOggOpusSource(open(t, ogg), true)
	if err != nil {
		t.Fatal(err)
	}
	return v, a, true
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	if b, err := exec.Command(bin, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, b)
	}
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

// TestClientAgainstCluster is docs/protocol.md §E.2–§E.5 end to end with the Go client: one publisher,
// three players, a player stop and the publisher's unpublish.
func TestClientAgainstCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Signals: 1, Mediads: 1})
	base := runtime.NumGoroutine()
	ctx := testCtx(t)
	video, audio, decodable := sources(t)
	pubSess, err := wasmclient.Connect(ctx, c.WSURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pubSess.Publish(ctx, wasmclient.PublishOptions{Name: "it-1", Video: video, Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	if obj, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatalf("publish: %+v %v", obj, err)
	}
	rec := filepath.Join(t.TempDir(), "rec.ivf")
	var sessions []*wasmclient.Session
	var players []*wasmclient.Stream
	for i := range 3 {
		s, err := wasmclient.Connect(ctx, c.WSURL, wasmclient.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
		o := wasmclient.PlayOptions{Name: "it-1"}
		if i == 0 {
			o.RecordFile = rec
		}
		st, err := s.Play(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, st)
	}
	for i, st := range players {
		if obj, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
			t.Fatalf("player %d: %+v %v", i, obj, err)
		}
	}
	for i, st := range players {
		eventually(t, "a 320x240 key frame and audio", func() bool {
			r := st.ReceiveStats()
			return r.VideoPackets > 0 && r.AudioPackets > 0 && r.Keyframes > 0 && r.Width == 320 && r.Height == 240
		})
		eventually(t, "three outboundVideoRate messages", func() bool { return len(st.Rates()) >= 3 })
		checkRatePeriod(t, st.Rates())
		vf, ok := st.VideoFormat()
		t.Logf("player %d: %+v; notifyVideoFormat %+v (%v); timeline %+v", i, st.ReceiveStats(), vf, ok, st.Timeline())
	}
	if err := players[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if players[0].Status() != wcs.StatusStopped {
		t.Fatalf("stopped player is %s (%s)", players[0].Status(), players[0].Info())
	}
	if err := pub.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if pub.Status() != wcs.StatusUnpublished {
		t.Fatalf("publisher is %s (%s)", pub.Status(), pub.Info())
	}
	for i, st := range players[1:] {
		obj, err := st.WaitStatus(ctx, wcs.StatusFailed)
		if err != nil || obj.Info != wcs.InfoStoppedByPublisherStop {
			t.Fatalf("player %d after unpublish: %+v %v", i+1, obj, err)
		}
	}
	for _, s := range append(sessions, pubSess) {
		_ = s.Close()
	}
	if decodable {
		checkRecording(t, rec)
	}
	checkGoroutines(t, base)
}

// checkRatePeriod: the server sends rates once a second (docs/protocol.md §C.18). The bounds are
// loose on purpose and apply to the mean spacing: they catch a burst or a stall, not jitter. (A
// message delayed on a loaded machine arrives close to the next one; that moves the mean by its
// delay over len(rates)-1, but a single spacing by all of it.)
func checkRatePeriod(t *testing.T, rates []wasmclient.RateSample) {
	t.Helper()
	if len(rates) < 3 {
		t.Fatalf("%d rate messages, want at least 3", len(rates))
	}
	mean := rates[len(rates)-1].At.Sub(rates[0].At) / time.Duration(len(rates)-1)
	if mean < 400*time.Millisecond || mean > 3*time.Second {
		t.Errorf("%d rate messages %v apart on average, want about 1 s", len(rates), mean)
	}
}

// checkRecording decodes the first player's IVF with ffprobe: every frame must be 320x240.
func checkRecording(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	frames := strings.Fields(string(out))
	if len(frames) < 10 {
		t.Fatalf("decoded %d frames from the recording", len(frames))
	}
	for _, f := range frames {
		if f != "320,240" {
			t.Fatalf("decoded frame %s, want 320,240", f)
		}
	}
}

// TestFanoutAgainstCluster is a short `potok bench fanout` run: 2 subscribers for 3 s.
func TestFanoutAgainstCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Signals: 1, Mediads: 1})
	var progress strings.Builder
	rep, err := bench.Run(testCtx(t), bench.Options{URL: c.WSURL, MetricsURL: c.MetricsURL, Subscribers: 2,
		Bitrate: 500_000, Duration: 3 * time.Second, Width: 320, Height: 240}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s\nreport:\n%s", progress.String(), rep.Text())
	// As in the bench's own tests: a window opens with packets the player has not counted yet (in
	// flight or queued behind a late receive goroutine), a number of packets set by its lag, so the
	// excess allowed is 5 % plus half a second of packets per player; duplication (ratio 2) fails.
	allowed := 1.05*float64(rep.ExpectedVideoPackets) + 2*float64(rep.PublisherSentVideoPackets)/rep.DurationSec/2
	if rep.Playing != 2 || rep.DurationSec <= 0 || rep.DeliveredVideoPackets == 0 || rep.DeliveryRatio <= 0 || float64(rep.DeliveredVideoPackets) > allowed {
		t.Fatalf("delivery: %+v", rep)
	}
	if rep.ServerCPUUnavailable != "" || rep.ServerCPUSeconds == nil || rep.ServerCPUMicrosPerPacket == nil {
		t.Fatalf("server CPU not measured: %q", rep.ServerCPUUnavailable)
	}
	// Both players play within the first second or two of a 3 s run: the steady window exists.
	if rep.SteadyCPUMicrosPerPacket == nil || rep.SteadySeconds <= 0 {
		t.Fatalf("no steady-state CPU figure: %+v", rep)
	}
	if rep.PlayerConnectToFirst.Count != 2 || rep.PlayerConnectToKeyframe.Count != 2 || rep.PublisherConnectToPublish <= 0 {
		t.Fatalf("timings: %+v", rep)
	}
}
