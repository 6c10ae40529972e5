package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/testwait"
	"github.com/potok-media/potok/wasmclient"
	"github.com/potok-media/potok/wasmclient/media"
	"github.com/potok-media/potok/webclient"
)

// wasmGzipBudget is issue 9's size budget of the served potok.wasm.
const wasmGzipBudget = 1_500_000

// buildWasm builds the browser client as `make wasm` does (wasmclient/potokjs, -trimpath -s -w)
// into a temporary directory with Go's wasm_exec.js, gzipped as webclient serves it. It returns
// the directory and the plain and gzipped sizes.
func buildWasm(t *testing.T) (dir string, plain, gz int) {
	t.Helper()
	dir = t.TempDir()
	out := filepath.Join(dir, "potok.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "../wasmclient/potokjs")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build potokjs: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, webclient.WasmGzip), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	support, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, webclient.WasmExec), support, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, len(raw), z.Len()
}

// serveClient serves webclient at /client/ with the wasm of dir, on 127.0.0.1.
func serveClient(t *testing.T, dir string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(webclient.Prefix, webclient.Handler(webclient.Options{Files: os.DirFS(dir)}))
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + webclient.Prefix
}

// newTab opens another tab of b; it closes at the end of the test, before the browser.
func newTab(t *testing.T, b *Browser) *Browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Context())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return &Browser{ctx: ctx}
}

// demoState is the window.__demo a demo page keeps (webclient/static/demo.js).
type demoState struct {
	Statuses []struct {
		Who, Status, Info string
		Ms                int
	} `json:"statuses"`
	Errors       []string                 `json:"errors"`
	FirstFrameMs int                      `json:"firstFrameMs"`
	LoadMs       int                      `json:"loadMs"`
	PlayStats    *wasmclient.ReceiveStats `json:"stats_playStats"`
	StreamEvents []string                 `json:"streamEvents"`
}

func (d demoState) reached(who, status string) (int, bool) {
	for _, s := range d.Statuses {
		if s.Who == who && s.Status == status {
			return s.Ms, true
		}
	}
	return 0, false
}

// waitDemo polls the page's window.__demo until cond (a JS expression over d) holds.
func waitDemo(t *testing.T, b *Browser, ctx context.Context, what, cond string) demoState {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := b.WaitJSON(wctx, `(() => { const d = window.__demo; return d && (`+cond+`) && d; })()`, 100*time.Millisecond)
	if err != nil {
		partial, _ := b.EvalJSON(ctx, `window.__demo || null`)
		t.Fatalf("%s: %v\npage state: %s", what, err, partial)
	}
	var d demoState
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: decode %s: %v", what, raw, err)
	}
	return d
}

// videoSize is a <video>'s intrinsic picture size.
func videoSize(t *testing.T, b *Browser, ctx context.Context, id string) [2]int {
	t.Helper()
	raw, err := b.EvalJSON(ctx, fmt.Sprintf(`[document.getElementById(%q).videoWidth, document.getElementById(%q).videoHeight]`, id, id))
	if err != nil {
		t.Fatal(err)
	}
	var wh [2]int
	if err := json.Unmarshal(raw, &wh); err != nil {
		t.Fatal(err)
	}
	return wh
}

// TestWasmClientPublishPlay is issue 9's browser client end to end: the two-way demo page
// (webclient, potok.js over the wasm build of wasmclient) publishes Chromium's fake camera and
// plays it back; the player page in a second tab and a native wasmclient play it too, each at the
// camera's picture size; the publisher's video mute, unmute and audio mute reach both players as
// stream events, video flowing on; stop and
// unpublish end all three. It prints the wasm's size and each page's time to first frame, and
// fails when the gzipped wasm passes the budget.
func TestWasmClientPublishPlay(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	ws := potokWSURL(t)
	dir, plain, gz := buildWasm(t)
	t.Logf("potok.wasm: %d bytes, gzipped (compress/gzip best) %d bytes (budget %d)", plain, gz, wasmGzipBudget)
	if gz > wasmGzipBudget {
		t.Errorf("potok.wasm gzipped is %d bytes, over the %d budget", gz, wasmGzipBudget)
	}
	base := serveClient(t, dir)
	b, ctx := launch(t, 2*time.Minute)
	name := "wasm-" + randomHex(4)

	// The two-way page: publish, then play its own stream.
	q := url.Values{"server": {ws}, "name": {name}, "autostart": {"1"}}
	if err := b.Navigate(ctx, base+"two_way.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	two := waitDemo(t, b, ctx, "two-way page plays its stream",
		`d.firstFrameMs > 0 && d.stats_playStats && d.stats_playStats.FramesDecoded > 0`)
	pubMs, _ := two.reached("publisher", "PUBLISHING")
	playMs, _ := two.reached("player", "PLAYING")
	t.Logf("two-way page: wasm loaded in %d ms; PUBLISHING at %d ms, PLAYING at %d ms, first remote frame at %d ms after navigation",
		two.LoadMs, pubMs, playMs, two.FirstFrameMs)
	camera := videoSize(t, b, ctx, "local")
	if camera[0] == 0 {
		t.Fatalf("no local picture: %v", camera)
	}
	// The size can arrive before the stats catch up with it: wait for both.
	two = waitDemo(t, b, ctx, "two-way player at the camera's size",
		fmt.Sprintf(`d.stats_playStats.Width === %d && d.stats_playStats.Height === %d`, camera[0], camera[1]))
	if got := videoSize(t, b, ctx, "remote"); got != camera {
		t.Errorf("two-way page: remote picture %v, camera %v", got, camera)
	}
	t.Logf("two-way player stats: %+v", *two.PlayStats)
	screenshot(t, b, ctx, "wasm-two-way-camera.png")

	// The player page in a second tab.
	tab := newTab(t, b)
	q = url.Values{"server": {ws}, "name": {name}, "autostart": {"1"}}
	start := time.Now()
	if err := tab.Navigate(ctx, base+"player.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	pl := waitDemo(t, tab, ctx, "player page plays the stream",
		fmt.Sprintf(`d.firstFrameMs > 0 && d.stats_playStats && d.stats_playStats.FramesDecoded > 0 && d.stats_playStats.Width === %d && d.stats_playStats.Height === %d`, camera[0], camera[1]))
	plMs, _ := pl.reached("player", "PLAYING")
	t.Logf("player page: wasm loaded in %d ms, PLAYING at %d ms, first frame at %d ms after navigation (%v wall)",
		pl.LoadMs, plMs, pl.FirstFrameMs, time.Since(start).Round(time.Millisecond))
	screenshot(t, tab, ctx, "wasm-player.png")

	// A native wasmclient player of the browser's stream.
	sess, err := wasmclient.Connect(ctx, ws, wasmclient.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sess.Close() }()
	native, err := sess.Play(ctx, wasmclient.PlayOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := native.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 20*time.Second, "native player decodes a key frame of the camera's size", func() bool {
		r := native.ReceiveStats()
		return r.Keyframes > 0 && r.Width == camera[0] && r.Height == camera[1]
	})
	t.Logf("native player: %+v", native.ReceiveStats())

	// Mute: both players hear of it.
	if _, err := b.EvalJSON(ctx, `window.__demo.actions.muteVideo()`); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, tab, ctx, "player page sees videoMuted", `(d.streamEvents || []).includes('videoMuted')`)
	testwait.Until(t, 20*time.Second, "native player sees videoMuted", func() bool {
		return slices.ContainsFunc(native.StreamEvents(), func(e wcs.StreamEvent) bool { return e.Type == wasmclient.EventVideoMuted })
	})
	if _, err := b.EvalJSON(ctx, `window.__demo.actions.muteVideo()`); err != nil { // unmute
		t.Fatal(err)
	}
	waitDemo(t, tab, ctx, "player page sees videoUnmuted", `(d.streamEvents || []).includes('videoUnmuted')`)
	if _, err := b.EvalJSON(ctx, `window.__demo.actions.muteAudio()`); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, tab, ctx, "player page sees audioMuted", `(d.streamEvents || []).includes('audioMuted')`)
	testwait.Until(t, 20*time.Second, "native player sees audioMuted", func() bool {
		return slices.ContainsFunc(native.StreamEvents(), func(e wcs.StreamEvent) bool { return e.Type == wasmclient.EventAudioMuted })
	})
	// The players keep receiving the muted audio's silence and the video.
	before := native.ReceiveStats().VideoPackets
	waitVideo(t, native, 20, "video after the mutes")
	t.Logf("native player: %d video packets after the mutes (from %d)", native.ReceiveStats().VideoPackets, before)

	// Stop the page's player, then unpublish: the other players end.
	if _, err := b.EvalJSON(ctx, `window.__demo.actions.stopPlay()`); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, b, ctx, "two-way player STOPPED", `d.statuses.some(s => s.who === 'player' && s.status === 'STOPPED')`)
	if _, err := b.EvalJSON(ctx, `window.__demo.actions.stopPublish()`); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, b, ctx, "publisher UNPUBLISHED", `d.statuses.some(s => s.who === 'publisher' && s.status === 'UNPUBLISHED')`)
	end := waitDemo(t, tab, ctx, "player page ends", `d.statuses.some(s => s.who === 'player' && ['STOPPED', 'FAILED'].includes(s.status))`)
	last := end.Statuses[len(end.Statuses)-1]
	t.Logf("player page ended %s %q", last.Status, last.Info)
	if obj, err := native.WaitStatus(ctx, wcs.StatusStopped, wcs.StatusFailed); err != nil {
		t.Errorf("native player after unpublish: %v", err)
	} else {
		t.Logf("native player ended %s %q", obj.Status, obj.Info)
	}
	two = waitDemo(t, b, ctx, "two-way page state", "true")
	if errs := append(two.Errors, end.Errors...); len(errs) > 0 {
		t.Errorf("the pages reported errors: %s", strings.Join(errs, "; "))
	}
}

// sdkPage is what web/websdk_wasm.html reports.
type sdkPage struct {
	Statuses []struct {
		Status, Info string
		Ms           int
	} `json:"statuses"`
	FramesDecoded int    `json:"framesDecoded"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	Error         string `json:"error"`
}

// waitSDK polls web/websdk_wasm.html's window.__result until cond (over r) holds.
func waitSDK(t *testing.T, b *Browser, ctx context.Context, what, cond string) sdkPage {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := b.WaitJSON(wctx, `(() => { const r = window.__result; return r && (`+cond+`) && r; })()`, 100*time.Millisecond)
	if err != nil {
		partial, _ := b.EvalJSON(ctx, `window.__result || null`)
		t.Fatalf("%s: %v\npage state: %s", what, err, partial)
	}
	var r sdkPage
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: decode %s: %v", what, raw, err)
	}
	return r
}

// TestWasmClientWebSDK: the official WebSDK and the wasm client on the two ends of a stream. A
// flashphoner.js publisher is played by the wasm player page at the camera's size, and a wasm
// publisher (the two-way page) by a flashphoner.js player, which decodes it at the camera's size.
func TestWasmClientWebSDK(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	ws := potokWSURL(t)
	dir, _, _ := buildWasm(t)
	client := serveClient(t, dir)
	assets := serveAssets(t)
	b, ctx := launch(t, 2*time.Minute)

	// WebSDK → wasm.
	sdkName := "sdk-" + randomHex(4)
	q := url.Values{"ws": {ws}, "name": {sdkName}, "mode": {"publish"}}
	if err := b.Navigate(ctx, assets+"/websdk_wasm.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	pub := waitSDK(t, b, ctx, "WebSDK publisher PUBLISHING with a picture",
		`r.statuses.some(s => s.status === 'PUBLISHING') && r.width > 0`)
	tab := newTab(t, b)
	q = url.Values{"server": {ws}, "name": {sdkName}, "autostart": {"1"}}
	if err := tab.Navigate(ctx, client+"player.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() { // the publisher's side of a failed play (it failed once "Stream not found" on a clean clone)
			state, _ := b.EvalJSON(ctx, `window.__result || null`)
			t.Logf("WebSDK publisher page: %s", state)
		}
	})
	pl := waitDemo(t, tab, ctx, "wasm player of the WebSDK publisher decodes at the camera's size",
		fmt.Sprintf(`d.stats_playStats && d.stats_playStats.FramesDecoded > 0 && d.stats_playStats.Width === %d && d.stats_playStats.Height === %d`, pub.Width, pub.Height))
	t.Logf("WebSDK publisher %dx%d; wasm player first frame at %d ms: %+v", pub.Width, pub.Height, pl.FirstFrameMs, *pl.PlayStats)

	// wasm → WebSDK: the two-way page publishes (and plays itself), the SDK plays.
	wasmName := "wasm-" + randomHex(4)
	q = url.Values{"server": {ws}, "name": {wasmName}, "autostart": {"1"}}
	if err := tab.Navigate(ctx, client+"two_way.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, tab, ctx, "wasm publisher PUBLISHING", `d.statuses.some(s => s.who === 'publisher' && s.status === 'PUBLISHING')`)
	camera := videoSize(t, tab, ctx, "local")
	q = url.Values{"ws": {ws}, "name": {wasmName}, "mode": {"play"}}
	if err := b.Navigate(ctx, assets+"/websdk_wasm.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	sdk := waitSDK(t, b, ctx, "WebSDK player of the wasm publisher decodes at the camera's size",
		fmt.Sprintf(`r.framesDecoded > 0 && r.width === %d && r.height === %d`, camera[0], camera[1]))
	t.Logf("wasm publisher %v; WebSDK player framesDecoded %d at %dx%d", camera, sdk.FramesDecoded, sdk.Width, sdk.Height)
}

// TestWasmClientSources publishes each other source of the two-way page and plays it back at the
// source's size: the screen (getDisplayMedia: Chromium's fake capture with the fake UI accepting
// the picker) and a canvas (captureStream of the page's animation, video only). Each page's
// screenshot goes to e2e/out/ (CI keeps it as an artifact).
func TestWasmClientSources(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	ws := potokWSURL(t)
	dir, _, _ := buildWasm(t)
	client := serveClient(t, dir)
	b, ctx := launch(t, 2*time.Minute)
	for _, source := range []string{"screen", "canvas"} {
		t.Run(source, func(t *testing.T) {
			q := url.Values{"server": {ws}, "name": {source + "-" + randomHex(4)}, "source": {source}, "autostart": {"1"}}
			if err := b.Navigate(ctx, client+"two_way.html?"+q.Encode()); err != nil {
				t.Fatal(err)
			}
			d := waitDemo(t, b, ctx, source+" played back",
				`d.stats_playStats && d.stats_playStats.FramesDecoded > 0 && document.getElementById('local').videoWidth > 0`)
			local := videoSize(t, b, ctx, "local")
			d = waitDemo(t, b, ctx, source+" played at its size",
				fmt.Sprintf(`d.stats_playStats.Width === %d && d.stats_playStats.Height === %d`, local[0], local[1]))
			t.Logf("%s %v: first remote frame at %d ms, %+v", source, local, d.FirstFrameMs, *d.PlayStats)
			if len(d.Errors) > 0 {
				t.Errorf("page errors: %v", d.Errors)
			}
			// Shown, not only decoded: autoplay may refuse sound, the client then plays muted.
			waitDemo(t, b, ctx, source+" remote <video> playing", `(v => !v.paused && v.currentTime > 0)(document.getElementById('remote'))`)
			screenshot(t, b, ctx, "wasm-two-way-"+source+".png")
		})
	}
}

// screenshot saves the tab's viewport under e2e/out/.
func screenshot(t *testing.T, b *Browser, ctx context.Context, name string) {
	t.Helper()
	tctx, cancel := b.derive(ctx)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll("out", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("out", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot e2e/out/%s", name)
}

// TestPotokDeclarations type-checks webclient/static/potok.d.ts against the example page script
// webclient/example/page.ts with the TypeScript compiler of the npm lockfile (tsc --noEmit -p
// webclient): a declaration that drifts from what a page writes fails here.
func TestPotokDeclarations(t *testing.T) {
	tsc := filepath.Join("node_modules", "typescript", "bin", "tsc")
	_, err := os.Stat(tsc)
	_, nodeErr := exec.LookPath("node")
	if err != nil || nodeErr != nil {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("tsc or node missing (%v, %v): run scripts/deps.sh", err, nodeErr)
		}
		t.Skip("tsc or node missing: run scripts/deps.sh")
	}
	out, err := exec.Command("node", tsc, "--noEmit", "-p", "../webclient").CombinedOutput()
	if err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// TestWasmClientTCP: the two-way page with ICE over TCP (transport "TCP" for the publisher and the
// player): the client keeps only the server's ICE-TCP candidate, so decoded frames came over TCP.
func TestWasmClientTCP(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	ws := potokWSURL(t)
	dir, _, _ := buildWasm(t)
	client := serveClient(t, dir)
	b, ctx := launch(t, 2*time.Minute)
	q := url.Values{"server": {ws}, "name": {"tcp-" + randomHex(4)}, "transport": {"TCP"}, "autostart": {"1"}}
	if err := b.Navigate(ctx, client+"two_way.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	d := waitDemo(t, b, ctx, "played back over ICE-TCP", `d.stats_playStats && d.stats_playStats.FramesDecoded > 0`)
	t.Logf("over TCP: first remote frame at %d ms, %+v", d.FirstFrameMs, *d.PlayStats)
}

// TestWasmClientSessionAPI drives potok.js from a script (on the player page, which loads it):
// availableStream false then true once published, sendData ACCEPTED, a REST data/send arriving
// as the session's 'data' event, a REST stream/terminate ending the page's publisher UNPUBLISHED
// "Stopped by rest /terminate", and disconnect ending the session DISCONNECTED.
func TestWasmClientSessionAPI(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	c := cluster.Start(t, cluster.Options{})
	dir, _, _ := buildWasm(t)
	client := serveClient(t, dir)
	b, ctx := launch(t, 2*time.Minute)
	if err := b.Navigate(ctx, client+"player.html"); err != nil {
		t.Fatal(err)
	}
	name := "api-" + randomHex(4)
	script := fmt.Sprintf(`(async () => {
		const r = window.__api = {statuses: [], data: [], session: []};
		const s = await Potok.connect(%q);
		r.token = s.authToken;
		s.on('data', p => r.data.push(p));
		s.on('status', (st, info) => r.session.push(st));
		r.before = await s.availableStream(%q);
		const pub = await s.publish({name: %q, audio: false});
		pub.on('status', (st, info) => r.statuses.push(st + ' ' + info));
		await pub.waitFor('PUBLISHING');
		r.id = pub.id;
		r.after = await s.availableStream(%q);
		r.sent = await s.sendData({hello: 'backend'});
		window.__session = s;
		return r;
	})()`, c.WSURLs[0], name, name, name)
	raw, err := b.EvalJSON(ctx, script)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Token         string
		ID            string
		Before, After struct {
			Available bool
			Info      string
		}
		Sent wcs.DataStatus
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	t.Logf("page: %s", raw)
	if r.Before.Available || r.Before.Info != wcs.InfoStreamNotFound || !r.After.Available {
		t.Errorf("availableStream before %+v, after %+v", r.Before, r.After)
	}
	if r.Sent.Status != "ACCEPTED" {
		t.Errorf("sendData: %+v", r.Sent)
	}
	if status, body := postREST(t, c.RESTURLs[0]+"/rest-api/data/send",
		`{"sessionId":"`+r.Token+`","operationId":"op-wasm","payload":{"n":42}}`); status != http.StatusOK {
		t.Errorf("data/send: %d %s", status, body)
	}
	wait := func(what, cond string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := b.WaitJSON(wctx, `(r => `+cond+`)(window.__api)`, 100*time.Millisecond); err != nil {
			state, _ := b.EvalJSON(ctx, `window.__api`)
			t.Fatalf("%s: %v\n%s", what, err, state)
		}
	}
	wait("the data/send payload as a 'data' event", `r.data.some(p => p && p.n === 42)`)
	if status, body := postREST(t, c.RESTURLs[0]+"/rest-api/stream/terminate", `{"mediaSessionId":"`+r.ID+`"}`); status != http.StatusOK {
		t.Errorf("stream/terminate: %d %s", status, body)
	}
	wait("the publisher UNPUBLISHED by the terminate", fmt.Sprintf(`r.statuses.includes(%q)`, "UNPUBLISHED "+wcs.InfoStoppedByRestTerminate))
	if _, err := b.EvalJSON(ctx, `window.__session.disconnect().then(() => true)`); err != nil {
		t.Fatal(err)
	}
	wait("the session DISCONNECTED", `r.session.includes('DISCONNECTED')`)
}

// TestWasmClientDemoPages: the screen-sharing page shares Chromium's fake screen and the player
// page it links to plays it at the screen's size; the rates page charts the server's per-second
// inboundVideoRate (to its publisher) and outboundVideoRate (to its player), each with a video
// rate and the canvas's size. Screenshots of the index, screen, player and rates pages go to e2e/out/.
func TestWasmClientDemoPages(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	ws := potokWSURL(t)
	dir, _, _ := buildWasm(t)
	client := serveClient(t, dir)
	b, ctx := launch(t, 2*time.Minute)

	if err := b.Navigate(ctx, client); err != nil {
		t.Fatal(err)
	}
	screenshot(t, b, ctx, "wasm-index.png")

	q := url.Values{"server": {ws}, "autostart": {"1"}}
	if err := b.Navigate(ctx, client+"screen.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	waitDemo(t, b, ctx, "screen shared", `d.statuses.some(s => s.who === 'publisher' && s.status === 'PUBLISHING') && document.getElementById('local').videoWidth > 0`)
	shared := videoSize(t, b, ctx, "local")
	raw, err := b.EvalJSON(ctx, `document.getElementById('playerLink').href`)
	if err != nil {
		t.Fatal(err)
	}
	var playerURL string
	if err := json.Unmarshal(raw, &playerURL); err != nil {
		t.Fatal(err)
	}
	tab := newTab(t, b)
	if err := tab.Navigate(ctx, playerURL); err != nil {
		t.Fatal(err)
	}
	pl := waitDemo(t, tab, ctx, "the player page linked by the screen page plays the screen",
		fmt.Sprintf(`d.stats_playStats && d.stats_playStats.FramesDecoded > 0 && d.stats_playStats.Width === %d && d.stats_playStats.Height === %d`, shared[0], shared[1]))
	t.Logf("screen %v played: %+v", shared, *pl.PlayStats)
	screenshot(t, b, ctx, "wasm-screen.png")
	screenshot(t, tab, ctx, "wasm-player-screen.png")

	q = url.Values{"server": {ws}, "source": {"canvas"}, "autostart": {"1"}}
	if err := b.Navigate(ctx, client+"rates.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	cond := `(r => ['inboundVideoRate', 'outboundVideoRate'].every(k => r[k].length >= 2 && r[k].slice(-1)[0].videoRate > 0 && r[k].slice(-1)[0].width === 640 && r[k].slice(-1)[0].height === 360))(d.rates)`
	waitDemo(t, b, ctx, "both rates charted", cond)
	raw, _ = b.EvalJSON(ctx, `[window.__demo.rates.inboundVideoRate.slice(-1)[0], window.__demo.rates.outboundVideoRate.slice(-1)[0]]`)
	t.Logf("last inboundVideoRate, outboundVideoRate: %s", raw)
	screenshot(t, b, ctx, "wasm-rates.png")
}

// TestWasmClientReconnect: a session with Reconnect (docs/protocol.md §H.8) through a proxy that
// cuts its socket without a close frame. Native wasmclient: RECONNECTING, then ESTABLISHED with
// the same token, its publisher still PUBLISHING and still played by a direct session, and a stop
// on the new socket ends it UNPUBLISHED. The two-way page (reconnect: true) likewise: its session
// shows RECONNECTING then ESTABLISHED, its player keeps decoding, its publisher stays PUBLISHING.
func TestWasmClientReconnect(t *testing.T) {
	requireBrowser(t)
	checkNoLeak(t)
	c := cluster.Start(t, cluster.Options{Signal: func(cfg *signal.Config) { cfg.KeepAliveGrace = 30 * time.Second }})
	ws := c.WSURLs[0]
	proxy := startCutProxy(t, ws)
	ctx := ctxFor(t, 90*time.Second)

	t.Run("native", func(t *testing.T) {
		statuses := make(chan string, 16)
		s, err := wasmclient.Connect(ctx, proxy.URL, wasmclient.SessionOptions{Reconnect: true,
			OnStatus: func(status string, _ error) { statuses <- status }})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Close() }()
		video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240})
		if err != nil {
			t.Fatal(err)
		}
		name := "reconnect-" + randomHex(4)
		pub, err := s.Publish(ctx, wasmclient.PublishOptions{Name: name, Video: video})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
			t.Fatal(err)
		}
		player := playWasm(t, ws, name)
		waitVideo(t, player, 10, "video before the cut")
		token := s.AuthToken()
		if n := proxy.Cut(cutBoth); n != 1 {
			t.Fatalf("cut %d connections, want the session's 1", n)
		}
		for _, want := range []string{wasmclient.SessionReconnecting, wasmclient.SessionEstablished} {
			select {
			case got := <-statuses:
				if got != want {
					t.Fatalf("session status %s, want %s", got, want)
				}
			case <-ctx.Done():
				t.Fatalf("no session status %s", want)
			}
		}
		if s.AuthToken() != token || pub.Status() != wcs.StatusPublishing {
			t.Errorf("after the re-attach: token %q (was %q), publisher %s", s.AuthToken(), token, pub.Status())
		}
		waitVideo(t, player, 30, "video after the re-attach")
		if err := pub.Stop(ctx); err != nil {
			t.Errorf("stop on the re-attached socket: %v", err)
		}
		if obj, err := player.WaitStatus(ctx, wcs.StatusFailed); err != nil || obj.Info != wcs.InfoStoppedByPublisherStop {
			t.Errorf("player after the stop: %+v %v", obj, err)
		}
	})

	// A server that kept nothing (no keepAlive grace: as after its restart) gives a new session:
	// the old streams end FAILED "Session lost", the session works on.
	t.Run("forgotten", func(t *testing.T) {
		c2 := cluster.Start(t, cluster.Options{})
		proxy2 := startCutProxy(t, c2.WSURLs[0])
		s, err := wasmclient.Connect(ctx, proxy2.URL, wasmclient.SessionOptions{Reconnect: true})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Close() }()
		publish := func(name string) *wasmclient.Stream {
			video, err := media.NewSyntheticVP8(media.SyntheticVP8Options{Width: 320, Height: 240})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := s.Publish(ctx, wasmclient.PublishOptions{Name: name, Video: video})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pub.WaitStatus(ctx, wcs.StatusPublishing); err != nil {
				t.Fatal(err)
			}
			return pub
		}
		pub := publish("forgotten-" + randomHex(4))
		token := s.AuthToken()
		proxy2.Cut(cutBoth)
		if obj, err := pub.WaitStatus(ctx, wcs.StatusFailed); err != nil || obj.Info != wasmclient.InfoSessionLost {
			t.Errorf("publisher of the forgotten session: %+v %v", obj, err)
		}
		testwait.Until(t, 10*time.Second, "a new session", func() bool {
			return s.Status() == wasmclient.SessionEstablished && s.AuthToken() != token
		})
		publish("again-" + randomHex(4))
	})

	t.Run("page", func(t *testing.T) {
		dir, _, _ := buildWasm(t)
		client := serveClient(t, dir)
		b, bctx := launch(t, 2*time.Minute)
		q := url.Values{"server": {proxy.URL}, "name": {"reconnect-" + randomHex(4)}, "autostart": {"1"}}
		if err := b.Navigate(bctx, client+"two_way.html?"+q.Encode()); err != nil {
			t.Fatal(err)
		}
		d := waitDemo(t, b, bctx, "played back", `d.stats_playStats && d.stats_playStats.FramesDecoded > 0`)
		before := d.PlayStats.FramesDecoded
		if n := proxy.Cut(cutBoth); n < 1 { // and the native session's closed ones
			t.Fatalf("cut %d connections, want the page's", n)
		}
		d = waitDemo(t, b, bctx, "the page's session RECONNECTING then ESTABLISHED",
			`(s => { const i = s.findIndex(x => x.who === 'session' && x.status === 'RECONNECTING'); return i >= 0 && s.slice(i).some(x => x.who === 'session' && x.status === 'ESTABLISHED'); })(d.statuses)`)
		d = waitDemo(t, b, bctx, "the player decodes on", fmt.Sprintf(`d.stats_playStats.FramesDecoded > %d`, before+30))
		for _, s := range d.Statuses {
			if (s.Who == "publisher" || s.Who == "player") && s.Status == wcs.StatusFailed {
				t.Errorf("%s FAILED %q across the re-attach", s.Who, s.Info)
			}
		}
		screenshot(t, b, bctx, "wasm-two-way-reconnected.png")

		// The same page against a server that keeps nothing (no keepAlive grace, as a restarted
		// one): a new session, and the page says its streams were lost.
		c2 := cluster.Start(t, cluster.Options{})
		proxy2 := startCutProxy(t, c2.WSURLs[0])
		q = url.Values{"server": {proxy2.URL}, "name": {"lost-" + randomHex(4)}, "autostart": {"1"}}
		if err := b.Navigate(bctx, client+"two_way.html?"+q.Encode()); err != nil {
			t.Fatal(err)
		}
		waitDemo(t, b, bctx, "played back", `d.stats_playStats && d.stats_playStats.FramesDecoded > 0`)
		proxy2.Cut(cutBoth)
		waitDemo(t, b, bctx, "publisher and player FAILED Session lost, the session ESTABLISHED again", fmt.Sprintf(`(s => {
			const lost = who => s.some(x => x.who === who && x.status === 'FAILED' && x.info === %q);
			return lost('publisher') && lost('player') && s.filter(x => x.who === 'session').pop().status === 'ESTABLISHED';
		})(d.statuses)`, wasmclient.InfoSessionLost))
		screenshot(t, b, bctx, "wasm-two-way-session-lost.png")
	})
}

// TestWasmClientServedByPotok runs the all-in-one potok binary: its HTTP port serves the demo
// pages at /client/ and, with --websdk-dir, the WebSDK's examples at /client2/; the binary embeds
// the wasm that `make wasm` built (make test runs it first), served gzipped. With it, the two-way
// page loaded from potok publishes to that potok and plays back.
func TestWasmClientServedByPotok(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	sdk, err := filepath.Abs("node_modules/@flashphoner/websdk")
	if err != nil {
		t.Fatal(err)
	}
	p := startPotok(t, []string{"STATE_DIRECTORY=" + t.TempDir()}, "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0", "--wss-listen", "", "--https-listen", "",
		"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only",
		"--websdk-dir", sdk)
	ws := "ws://" + p.waitAddr(t, "websocket listening")
	httpBase := "http://" + p.waitAddr(t, "http listening")
	waitReady(t, httpBase+"/ready")
	for path, want := range map[string]string{
		"/client/":                "Potok browser client",
		"/client/two_way.html":    "Two-way streaming",
		"/client/potok.js":        "Potok.connect",
		"/client2/flashphoner.js": "Flashphoner",
		"/client2/examples/demo/streaming/two_way_streaming/two_way_streaming.html": "../../../../flashphoner.js",
	} {
		status, body := getText(t, httpBase+path, "")
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, %d bytes without %q", path, status, len(body), want)
		}
	}
	status, body := getText(t, httpBase+"/client/potok.wasm", "gzip")
	if status == http.StatusNotFound {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("potok.wasm not embedded (%s): make test runs make wasm before the tests", body)
		}
		t.Skipf("potok.wasm not embedded: run make wasm (%s)", strings.TrimSpace(body))
	}
	if status != http.StatusOK || len(body) > wasmGzipBudget {
		t.Fatalf("potok.wasm: %d, %d bytes gzipped", status, len(body))
	}
	t.Logf("potok serves potok.wasm gzipped: %d bytes", len(body))

	b, ctx := launch(t, 2*time.Minute)
	q := url.Values{"server": {ws}, "name": {"potok-" + randomHex(4)}, "autostart": {"1"}}
	if err := b.Navigate(ctx, httpBase+"/client/two_way.html?"+q.Encode()); err != nil {
		t.Fatal(err)
	}
	d := waitDemo(t, b, ctx, "the page from potok plays back", `d.stats_playStats && d.stats_playStats.FramesDecoded > 0`)
	t.Logf("page from potok: wasm loaded in %d ms, first remote frame at %d ms", d.LoadMs, d.FirstFrameMs)
}

// getText GETs u (Accept-Encoding as given: the body is returned as sent) and returns the status
// and body.
func getText(t *testing.T, u, acceptEncoding string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
