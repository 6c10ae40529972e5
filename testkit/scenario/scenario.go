// Package scenario is the behavioural specification of Potok's streaming, written once and run
// against every way of deploying it: the in-process cluster and separate `potok signal` and
// `potok mediad` processes. Each scenario drives real clients (wasmclient, pion) over loopback.
package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
)

// Target is a running Potok to test.
type Target struct {
	WSURL string
	// PeerConnections reports the live media peer connections of the whole deployment.
	PeerConnections func(t *testing.T) int
}

// Timeouts are generous for a loaded 2-core CI machine; they bound waits, they are not measurements.
const (
	stepTimeout  = 20 * time.Second
	mediaTimeout = 15 * time.Second
)

// Run runs every scenario as a subtest.
func Run(t *testing.T, tg Target) {
	t.Run("PublishAndThreePlayers", func(t *testing.T) { publishAndThreePlayers(t, tg) })
	t.Run("DuplicateStreamName", func(t *testing.T) { duplicateName(t, tg) })
	t.Run("PlayMissingStream", func(t *testing.T) { playMissing(t, tg) })
	t.Run("DisconnectWhilePublishing", func(t *testing.T) { disconnectWhilePublishing(t, tg) })
	t.Run("NothingLeftBehind", func(t *testing.T) { waitPeerConnections(t, tg, 0) })
}

func publishAndThreePlayers(t *testing.T, tg Target) {
	name := streamName("three")
	pubSess := connect(t, tg)
	pub := publishFile(t, pubSess, name)

	// One player shares the publisher's session, as the WebSDK's own test does; two have their own.
	sessions := []*wasmclient.Session{pubSess, connect(t, tg), connect(t, tg)}
	recording := filepath.Join(t.TempDir(), "player0.ivf")
	players := make([]*wasmclient.Stream, len(sessions))
	for i, s := range sessions {
		opts := wasmclient.PlayOptions{Name: name}
		if i == 0 {
			opts.RecordFile = recording
		}
		players[i] = play(t, s, opts, wcs.StatusPlaying)
	}
	for i, p := range players {
		waitReceived(t, p, func(rs wasmclient.ReceiveStats) bool {
			return rs.Keyframes >= 1 && rs.VideoPackets >= 30 && rs.AudioPackets >= 10
		}, "player %d: keyframe, 30 video and 10 audio packets", i)
		if rs := p.ReceiveStats(); rs.Width != 320 || rs.Height != 240 {
			t.Errorf("player %d: keyframe size %dx%d, want 320x240", i, rs.Width, rs.Height)
		}
	}
	checkVideoFormat(t, players[1])
	checkRates(t, pub, "inboundVideoRate")
	checkRates(t, players[1], "outboundVideoRate")

	// Stopping one player leaves the others playing.
	stop(t, players[0], wcs.StatusStopped)
	before := players[1].ReceiveStats().VideoPackets
	waitReceived(t, players[1], func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > before+20 },
		"player 1 keeps receiving after player 0 stopped")
	checkDecodable(t, recording, 320, 240)

	// Unpublishing ends the remaining players FAILED "Stopped by publisher stop" (docs/protocol.md §E.4).
	stop(t, pub, wcs.StatusUnpublished)
	for _, p := range players[1:] {
		waitTerminal(t, p, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	}
}

func duplicateName(t *testing.T, tg Target) {
	name := streamName("dup")
	first := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	second, err := connect(t, tg).Publish(ctx(t), syntheticOptions(t, name))
	if err != nil {
		t.Fatalf("second publish: %v", err)
	}
	waitTerminal(t, second, wcs.StatusFailed, wcs.InfoStreamNameAlreadyInUse)
	if s := first.Status(); s != wcs.StatusPublishing {
		t.Fatalf("first publisher is %s after the duplicate, want PUBLISHING", s)
	}
	// The name is free again once its publisher stops.
	stop(t, first, wcs.StatusUnpublished)
	again := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	stop(t, again, wcs.StatusUnpublished)
}

func playMissing(t *testing.T, tg Target) {
	s := connect(t, tg)
	p, err := s.Play(ctx(t), wasmclient.PlayOptions{Name: streamName("missing")})
	if err != nil {
		t.Fatalf("play: %v", err)
	}
	waitTerminal(t, p, wcs.StatusFailed, wcs.InfoStreamNotFound)
}

func disconnectWhilePublishing(t *testing.T, tg Target) {
	name := streamName("gone")
	pubSess := connect(t, tg)
	publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, tg), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	if err := pubSess.Close(); err != nil {
		t.Fatalf("close publisher session: %v", err)
	}
	waitTerminal(t, player, wcs.StatusFailed, wcs.InfoStoppedByPublisherStop)
	// The disconnect released the name.
	again := publishSynthetic(t, connect(t, tg), name, wcs.StatusPublishing)
	stop(t, again, wcs.StatusUnpublished)
}

// --- steps ---

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), stepTimeout)
	t.Cleanup(cancel)
	return c
}

func connect(t *testing.T, tg Target) *wasmclient.Session {
	t.Helper()
	s, err := wasmclient.Connect(ctx(t), tg.WSURL, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatalf("connect %s: %v", tg.WSURL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func streamName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func syntheticOptions(t *testing.T, name string) wasmclient.PublishOptions {
	t.Helper()
	video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240, Bitrate: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	return wasmclient.PublishOptions{Name: name, Video: video, Audio: media.NewSilentOpus(0)}
}

func publishSynthetic(t *testing.T, s *wasmclient.Session, name, want string) *wasmclient.Stream {
	t.Helper()
	st, err := s.Publish(ctx(t), syntheticOptions(t, name))
	if err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	if _, err := st.WaitStatus(ctx(t), want); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return st
}

// publishFile publishes real VP8 (libvpx) and Opus encoded by ffmpeg, looped.
func publishFile(t *testing.T, s *wasmclient.Session, name string) *wasmclient.Stream {
	t.Helper()
	ivf, ogg := fixtures(t)
	vf, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vf.Close() })
	af, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = af.Close() })
	video, err := media.NewIVFSource(vf, true)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := media.NewOggOpusSource(af, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Publish(ctx(t), wasmclient.PublishOptions{Name: name, Video: video, Audio: audio})
	if err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	if _, err := st.WaitStatus(ctx(t), wcs.StatusPublishing); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return st
}

func play(t *testing.T, s *wasmclient.Session, o wasmclient.PlayOptions, want string) *wasmclient.Stream {
	t.Helper()
	st, err := s.Play(ctx(t), o)
	if err != nil {
		t.Fatalf("play %s: %v", o.Name, err)
	}
	if _, err := st.WaitStatus(ctx(t), want); err != nil {
		t.Fatalf("play %s: %v", o.Name, err)
	}
	return st
}

func stop(t *testing.T, st *wasmclient.Stream, want string) {
	t.Helper()
	if err := st.Stop(ctx(t)); err != nil {
		t.Fatalf("stop %s: %v", st.Name(), err)
	}
	if s := st.Status(); s != want {
		t.Fatalf("stop %s: status %s (%s), want %s", st.Name(), s, st.Info(), want)
	}
}

func waitTerminal(t *testing.T, st *wasmclient.Stream, status, info string) {
	t.Helper()
	obj, err := st.WaitStatus(ctx(t), status)
	if err != nil {
		t.Fatalf("%s: want %s %q: %v", st.Name(), status, info, err)
	}
	if obj.Info != info {
		t.Fatalf("%s: %s info %q, want %q", st.Name(), status, obj.Info, info)
	}
}

func waitReceived(t *testing.T, st *wasmclient.Stream, ok func(wasmclient.ReceiveStats) bool, what string, args ...any) {
	t.Helper()
	testwait.UntilOK(t, mediaTimeout, fmt.Sprintf(what, args...), func() error {
		if rs := st.ReceiveStats(); !ok(rs) {
			return fmt.Errorf("have %+v", rs)
		}
		return nil
	})
}

// rateMessages is how many rate messages checkRates waits for; their mean spacing is checked.
const rateMessages = 4

// checkRates expects the rate messages once a second (docs/protocol.md §C.18): rateMessages new ones
// arrive, their mean spacing is between 0.4 s and 3 s (a burst or a stall, not a loaded machine's
// jitter: one late message moves the mean by its delay over rateMessages-1), and the last one reports
// a non-zero rate and the picture size.
func checkRates(t *testing.T, st *wasmclient.Stream, kind string) {
	t.Helper()
	start := time.Now()
	var inWindow []wasmclient.RateSample
	testwait.UntilOK(t, mediaTimeout, fmt.Sprintf("%d %s messages", rateMessages, kind), func() error {
		inWindow = inWindow[:0]
		for _, r := range st.Rates() {
			if r.At.After(start) {
				inWindow = append(inWindow, r)
			}
		}
		if len(inWindow) < rateMessages {
			return fmt.Errorf("%d so far", len(inWindow))
		}
		return nil
	})
	n := len(inWindow)
	if mean := inWindow[n-1].At.Sub(inWindow[0].At) / time.Duration(n-1); mean < 400*time.Millisecond || mean > 3*time.Second {
		t.Fatalf("%s: %d messages %v apart on average, want about one a second", kind, n, mean)
	}
	last := inWindow[n-1].Rate
	if last.MediaSessionID != st.MediaSessionID() || last.VideoRate <= 0 || last.Width != 320 || last.Height != 240 {
		t.Fatalf("%s: last message %+v, want this media session, a positive rate and 320x240", kind, last)
	}
}

func checkVideoFormat(t *testing.T, st *wasmclient.Stream) {
	t.Helper()
	testwait.UntilOK(t, mediaTimeout, "notifyVideoFormat 320x240", func() error {
		if vf, ok := st.VideoFormat(); !ok || vf.StreamerVideoWidth != 320 || vf.StreamerVideoHeight != 240 {
			return fmt.Errorf("got %+v (received %v)", vf, ok)
		}
		return nil
	})
}

// checkDecodable proves the recorded frames decode, at the published size, with ffprobe. The sizes
// are those of decoded frames, not of the container header.
func checkDecodable(t *testing.T, path string, width, height int) {
	t.Helper()
	out, err := exec.Command(tool(t, "ffprobe"), "-v", "error", "-select_streams", "v:0",
		"-show_entries", "frame=width,height", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	want := strconv.Itoa(width) + "," + strconv.Itoa(height)
	frames := strings.Fields(strings.TrimSpace(string(out)))
	if len(frames) < 10 {
		t.Fatalf("ffprobe decoded %d frames from the recording, want at least 10: %s", len(frames), out)
	}
	for i, f := range frames {
		if f != want {
			t.Fatalf("decoded frame %d is %s, want %s", i, f, want)
		}
	}
}

func waitPeerConnections(t *testing.T, tg Target, want int) {
	t.Helper()
	testwait.UntilOK(t, mediaTimeout, fmt.Sprintf("%d media peer connections", want), func() error {
		if n := tg.PeerConnections(t); n != want {
			return fmt.Errorf("%d left", n)
		}
		return nil
	})
}

// --- fixtures ---

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixtures encodes 2 s of 320x240 VP8 and 48 kHz Opus once per test binary.
func fixtures(t *testing.T) (ivf, ogg string) {
	t.Helper()
	ffmpeg := tool(t, "ffmpeg")
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "potok-scenario-")
		if fixtureErr != nil {
			return
		}
		ivf, ogg := filepath.Join(fixtureDir, "v.ivf"), filepath.Join(fixtureDir, "a.ogg")
		cmds := [][]string{
			{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "2", "-c:v", "libvpx", "-b:v", "400k", "-g", "30", ivf},
			{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:a", "libopus", ogg},
		}
		for _, args := range cmds {
			args = append([]string{"-loglevel", "error", "-y"}, args...)
			if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
				fixtureErr = errors.New("ffmpeg: " + err.Error() + ": " + string(out))
				return
			}
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return filepath.Join(fixtureDir, "v.ivf"), filepath.Join(fixtureDir, "a.ogg")
}

// Cleanup removes the fixtures; call it from TestMain.
func Cleanup() {
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
}

// tool finds a binary that make test installs; without it the test fails under POTOK_E2E=1 (make
// test, CI) and is skipped in a bare `go test`.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("POTOK_E2E") != "" {
		t.Fatalf("%s is required (scripts/deps.sh installs it): %v", name, err)
	}
	t.Skipf("%s not installed; run scripts/deps.sh", name)
	return ""
}
