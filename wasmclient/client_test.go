//go:build !js

package wasmclient

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient/media"
	"github.com/potok-media/potok/wasmclient/wcstest"
)

const waitFor = 15 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkGoroutines waits until the goroutine count is back to base (pion and net/http wind down
// asynchronously) and fails with a dump otherwise.
func checkGoroutines(t *testing.T, base int) { testwait.Goroutines(t, base, 0, 10*time.Second) }

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) { testwait.Until(t, waitFor, what, cond) }

func TestConnectSpeaksLikeTheWebSDK(t *testing.T) {
	base := runtime.NumGoroutine()
	f := wcstest.New(t)
	s, err := Connect(testCtx(t), f.URL(), SessionOptions{Custom: json.RawMessage(`{"login":"u1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status() != SessionEstablished || s.AuthToken() != "token-1" {
		t.Fatalf("status %s token %q", s.Status(), s.AuthToken())
	}
	eventually(t, "getVersion", func() bool { return s.ServerVersion() == wcs.Version })
	conn := f.Received(wcs.MsgConnection)
	if len(conn) != 1 {
		t.Fatalf("%d connection messages", len(conn))
	}
	var obj map[string]any
	if err := conn[0].Arg(0, &obj); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"appKey": "defaultApp", "clientVersion": "2.0", "clientBrowserVersion": "potok-wasmclient",
		"msePacketizationVersion": 2.0, "mediaProviders": []any{"WebRTC"}, "custom": map[string]any{"login": "u1"}}
	for k, v := range want {
		if got, _ := json.Marshal(obj[k]); string(got) != mustJSON(v) {
			t.Errorf("connection.%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	var echoed string
	_ = json.Unmarshal(s.UserData()["appKey"], &echoed)
	if echoed != "defaultApp" {
		t.Errorf("getUserData echo appKey %q", echoed)
	}
	// The fixture pings right after getUserData; the answer is the WebSDK's exact frame (§A.6).
	eventually(t, "pong", func() bool { return len(f.RawPongs()) > 0 })
	pong := f.RawPongs()[0]
	if pong != `{"message":"pong","data":[null]}` {
		t.Errorf("pong frame %s", pong)
	}
	tl := s.Timeline()
	if tl.ConnectStart.IsZero() || tl.SocketOpen.Before(tl.ConnectStart) || tl.Established.Before(tl.SocketOpen) {
		t.Errorf("timeline out of order: %+v", tl)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if s.Err() != nil || s.Status() != SessionDisconnected {
		t.Fatalf("after close: err %v status %s", s.Err(), s.Status())
	}
	if _, err := s.Play(testCtx(t), PlayOptions{Name: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Play on a closed session: %v", err)
	}
	f.Close()
	checkGoroutines(t, base)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestConnectErrors(t *testing.T) {
	f := wcstest.New(t)
	_, err := Connect(testCtx(t), f.URL(), SessionOptions{AppKey: "reject"})
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("rejected connect: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:1", "ws://", "::bad"} {
		if _, err := Connect(testCtx(t), u, SessionOptions{}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%q: %v, want ErrBadOptions", u, err)
		}
	}
	if _, err := Connect(testCtx(t), "ws://127.0.0.1:1", SessionOptions{}); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}

func TestLoopbackDecision(t *testing.T) {
	cases := []struct {
		url  string
		n    Network
		want bool
	}{
		{"ws://127.0.0.1:8080", NetworkAuto, true},
		{"ws://localhost:8080", NetworkAuto, true},
		{"wss://[::1]:8443", NetworkAuto, true},
		{"ws://192.0.2.7:8080", NetworkAuto, false},
		{"ws://example.org", NetworkAuto, false},
		{"ws://example.org", NetworkLoopback, true},
		{"ws://127.0.0.1", NetworkAll, false},
	}
	for _, c := range cases {
		got, err := loopbackURL(c.url, c.n)
		if err != nil || got != c.want {
			t.Errorf("%s/%d: %v %v, want %v", c.url, c.n, got, err, c.want)
		}
	}
}

// publishSources returns a 320x240 synthetic VP8 and silent Opus pair.
func publishSources(t *testing.T) (media.Source, media.Source) {
	t.Helper()
	v, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240, Bitrate: 300_000, KeyframeInterval: 30})
	if err != nil {
		t.Fatal(err)
	}
	return v, media.NewSilentOpus(0)
}

func TestPublishPlayStopAgainstFixture(t *testing.T) {
	base := runtime.NumGoroutine()
	f := wcstest.New(t)
	ctx := testCtx(t)
	pubSess, err := Connect(ctx, f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	video, audio := publishSources(t)
	pub, err := pubSess.Publish(ctx, PublishOptions{Name: "s1", Video: video, Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	checkPublishRequest(t, f, pub)
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	var players []*Stream
	var sessions []*Session
	for range 2 {
		s, err := Connect(ctx, f.URL(), SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
		st, err := s.Play(ctx, PlayOptions{Name: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, st)
	}
	for _, st := range players {
		if obj, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil || obj.VideoCodec != "VP8" {
			t.Fatalf("play: %+v %v", obj, err)
		}
		eventually(t, "a 320x240 key frame", func() bool {
			r := st.ReceiveStats()
			return r.Keyframes > 0 && r.Width == 320 && r.Height == 240 && r.AudioPackets > 0
		})
		eventually(t, "two rate messages", func() bool { return len(st.Rates()) >= 2 })
		if vf, ok := st.VideoFormat(); !ok || vf.StreamerVideoWidth != 320 {
			t.Errorf("video format %+v %v", vf, ok)
		}
		tl := st.Timeline()
		if tl.FirstPacket.IsZero() || tl.RemoteSDP.IsZero() || tl.Active.IsZero() || tl.Connected.IsZero() {
			t.Errorf("player timeline incomplete: %+v", tl)
		}
	}
	if tl := pub.Timeline(); tl.FirstPacket.IsZero() || pub.SendStats().Video.Packets == 0 {
		t.Errorf("publisher sent nothing: %+v", pub.SendStats())
	}
	if err := players[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if players[0].Status() != wcs.StatusStopped || players[0].Info() != wcs.InfoStoppedByUser {
		t.Fatalf("stopped player: %s %q", players[0].Status(), players[0].Info())
	}
	eventually(t, "stopStream", func() bool { return len(f.Received(wcs.MsgStopStream)) > 0 })
	stop := f.Received(wcs.MsgStopStream)
	var req map[string]any
	if len(stop) != 1 || stop[0].Arg(0, &req) != nil || req["status"] != "PLAYING" || req["published"] != false {
		t.Fatalf("stopStream frames %d: %v", len(stop), req)
	}
	if err := pub.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if pub.Status() != wcs.StatusUnpublished {
		t.Fatalf("publisher %s", pub.Status())
	}
	obj, err := players[1].WaitStatus(ctx, wcs.StatusFailed)
	if err != nil || obj.Info != wcs.InfoStoppedByPublisherStop {
		t.Fatalf("remaining player: %+v %v", obj, err)
	}
	for _, s := range append(sessions, pubSess) {
		_ = s.Close()
	}
	f.Close()
	checkGoroutines(t, base)
}

// checkPublishRequest asserts the publishStream frame is what the WebSDK sends (§B.4, §H.3).
func checkPublishRequest(t *testing.T, f *wcstest.Server, st *Stream) {
	t.Helper()
	eventually(t, "publishStream", func() bool { return len(f.Received(wcs.MsgPublishStream)) > 0 })
	pubs := f.Received(wcs.MsgPublishStream)
	if len(pubs) != 1 {
		t.Fatalf("%d publishStream frames", len(pubs))
	}
	var req wcs.StreamRequest
	if err := pubs[0].Arg(0, &req); err != nil {
		t.Fatal(err)
	}
	id, err := uuid.Parse(string(req.MediaSessionID))
	if err != nil || id.Version() != 1 || id.String() != st.MediaSessionID() {
		t.Errorf("mediaSessionId %q: %v (version %d)", req.MediaSessionID, err, id.Version())
	}
	if !req.Published || req.Status != "PENDING" || req.MediaProvider != "WebRTC" || !req.HasVideo || !req.HasAudio {
		t.Errorf("publishStream fields: %+v", req)
	}
	sdp := string(req.SDP)
	if strings.Contains(sdp, "a=candidate") || !strings.Contains(sdp, "a=sendonly") || strings.Contains(sdp, "a=recvonly") {
		t.Errorf("offer must have no candidates and sendonly media:\n%s", sdp)
	}
	if strings.Index(sdp, "m=audio") > strings.Index(sdp, "m=video") {
		t.Errorf("audio m-line must come first:\n%s", sdp)
	}
}

func TestPlayUnknownStreamFails(t *testing.T) {
	f := wcstest.New(t)
	ctx := testCtx(t)
	s, err := Connect(ctx, f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Play(ctx, PlayOptions{Name: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.WaitStatus(ctx, wcs.StatusPlaying)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != wcs.StatusFailed || se.Info != wcs.InfoStreamNotFound {
		t.Fatalf("play of a missing stream: %v", err)
	}
	if err := st.Stop(ctx); err != nil { // stop after FAILED is a no-op, as in the SDK
		t.Fatal(err)
	}
}

func TestSessionLossFailsStreams(t *testing.T) {
	f := wcstest.New(t)
	ctx := testCtx(t)
	s, err := Connect(ctx, f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	video, audio := publishSources(t)
	pub, err := s.Publish(ctx, PublishOptions{Name: "lost", Video: video, Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	f.DropSockets()
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session did not notice the lost socket")
	}
	if s.Err() == nil || s.Status() != SessionFailed {
		t.Fatalf("err %v status %s", s.Err(), s.Status())
	}
	if pub.Status() != wcs.StatusFailed {
		t.Fatalf("stream after session loss: %s", pub.Status())
	}
	_ = s.Close()
}

func TestPublishPlayFilesRecordsDecodableIVF(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	in, ogg, rec := filepath.Join(dir, "in.ivf"), filepath.Join(dir, "in.ogg"), filepath.Join(dir, "rec.ivf")
	run(t, ffmpeg, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "3", "-c:v", "libvpx", "-b:v", "500k", "-g", "30", in)
	run(t, ffmpeg, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "3", "-c:a", "libopus", ogg)
	f := wcstest.New(t)
	ctx := testCtx(t)
	pubSess, err := Connect(ctx, f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pubSess.Close()
	vf, af := openFile(t, in), openFile(t, ogg)
	video, err := media.NewIVFSource(vf, true)
	if err != nil {
		t.Fatal(err)
	}
	audio, err := media.NewOggOpusSource(af, true)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := pubSess.Publish(ctx, PublishOptions{Name: "file", Video: video, Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
		t.Fatal(err)
	}
	s, err := Connect(ctx, f.URL(), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Play(ctx, PlayOptions{Name: "file", RecordFile: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatal(err)
	}
	eventually(t, "60 frames sent", func() bool { return st.ReceiveStats().VideoPackets > 0 && pub.SendStats().Video.Frames > 60 })
	_ = s.Close() // closes the peer connection, which ends the recording
	frames := decodedFrames(t, rec)
	if len(frames) < 20 {
		t.Fatalf("ffprobe decoded %d frames from the recording, want >= 20", len(frames))
	}
	for _, fr := range frames {
		if fr != "320,240" {
			t.Fatalf("decoded frame size %s, want 320,240", fr)
		}
	}
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, b)
	}
}

func openFile(t *testing.T, path string) *os.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	return fh
}

// decodedFrames decodes a file with ffprobe and returns "width,height" per decoded frame.
func decodedFrames(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	return strings.Fields(string(out))
}

func TestTCPCandidatesOnly(t *testing.T) {
	in := "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 31000 typ host\r\n" +
		"a=candidate:2 1 tcp 1671430143 127.0.0.1 31000 typ host tcptype passive\r\n" +
		"a=end-of-candidates\r\n"
	want := "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
		"a=candidate:2 1 tcp 1671430143 127.0.0.1 31000 typ host tcptype passive\r\n" +
		"a=end-of-candidates\r\n"
	if got := tcpCandidatesOnly(in); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
