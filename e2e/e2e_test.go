package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/potok-media/potok/testkit/testwait"
)

// envRequire makes missing browser prerequisites a failure instead of a skip. CI sets it, so that a
// missing install cannot pass green.
const envRequire = "POTOK_E2E"

// envConsole=1 prints the page's console also when the test passed (it is always printed on failure).
const envConsole = "POTOK_E2E_CONSOLE"

// envTrace=1 makes the WebSDK pages log every signalling frame to the console (web/wstrace.js), and
// prints the console.
const envTrace = "POTOK_E2E_TRACE"

// pageQuery encodes a page's query, adding trace=1 under POTOK_E2E_TRACE=1.
func pageQuery(v url.Values) string {
	if os.Getenv(envTrace) == "1" {
		v.Set("trace", "1")
	}
	return v.Encode()
}

// requireBrowser skips the test when Chromium or the npm packages are missing, unless POTOK_E2E=1.
func requireBrowser(t *testing.T) {
	t.Helper()
	required := os.Getenv(envRequire) == "1"
	if testing.Short() && !required {
		t.Skip("browser test skipped in -short mode")
	}
	var missing []string
	if !ChromiumAvailable() {
		missing = append(missing, ChromiumPath)
	}
	if _, err := os.Stat("node_modules/@flashphoner/websdk/flashphoner.js"); err != nil {
		missing = append(missing, "e2e/node_modules (npm ci --prefix e2e)")
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing %s: run scripts/deps.sh", strings.Join(missing, ", "))
	if required {
		t.Fatalf("%s (%s=1 requires the browser tests to run)", msg, envRequire)
	}
	t.Skip(msg)
}

// checkNoLeak records the goroutine count now and, at the very end of the test (after the cluster, the
// asset server and the browser have closed: cleanups run last-in first-out), checks that it came back.
// Call it before starting anything else.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() { checkGoroutines(t, before, "closing the cluster, the asset server and the browser") })
}

// serveAssets starts an HTTP server on 127.0.0.1 for the pages and npm packages; it returns its base URL.
func serveAssets(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewAssetHandler(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h) // httptest listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}

// launch starts Chromium for one test, bounded by timeout, with extra allocator options (e.g.
// IgnoreCertificateErrors). Cleanup closes it, checks that the launcher
// left no goroutine behind, and prints the page's console when the test failed (or POTOK_E2E_CONSOLE=1).
func launch(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) (*Browser, context.Context) {
	t.Helper()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	start := time.Now()
	b, err := LaunchBrowser(ctx, extra...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Logf("browser up in %v", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() || os.Getenv(envConsole) == "1" || os.Getenv(envTrace) == "1" {
			for _, line := range lastLines(b.Console(), 2000) {
				t.Logf("console: %s", line)
			}
		}
		if err := b.Close(); err != nil {
			t.Errorf("close browser: %v", err)
		}
		cancel()
		checkGoroutines(t, before, "closing the browser")
	})
	return b, ctx
}

// checkGoroutines waits for the goroutine count to fall back to before; a leak is reported with
// every goroutine's stack and what had just closed.
func checkGoroutines(t *testing.T, before int, after string) {
	t.Helper()
	if !testwait.Goroutines(t, before, 0, 15*time.Second) {
		t.Logf("the goroutines above were left after %s", after)
	}
}

// waitResult polls window.__result until its done field is true and decodes it into v.
func waitResult(t *testing.T, b *Browser, ctx context.Context, timeout time.Duration, v any) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := b.WaitJSON(wctx, `window.__result && window.__result.done && window.__result`, 200*time.Millisecond)
	if err != nil {
		// Show how far the page got.
		partial, perr := b.EvalJSON(ctx, `window.__result || null`)
		t.Fatalf("page did not finish: %v\npartial result: %s %v", err, partial, perr)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode page result %s: %v", raw, err)
	}
}

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}
