// Package e2e drives real third-party clients against Potok: headless Debian Chromium (through chromedp)
// running the official, unmodified Flashphoner WebSDK and its own mocha suite.
//
// The flag set is docs/protocol.md §P.4, the pitfalls §P.5–§P.8. Run one
// browser at a time: one test peaks at about 0.6 GB and the machines have 2 cores.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium (apt package chromium, installed by scripts/deps.sh). It is a shell
// wrapper that may print "[: ...: unexpected operator" on start; that is harmless (docs/protocol.md §P.6).
const ChromiumPath = "/usr/bin/chromium"

// ChromiumAvailable reports whether ChromiumPath exists and is executable.
func ChromiumAvailable() bool {
	_, err := exec.LookPath(ChromiumPath)
	return err == nil
}

// Browser is one headless Chromium process with one tab. Close it; Close waits for the process and the
// console reader to exit and removes the profile directory.
type Browser struct {
	ctx         context.Context // the tab: pass it to chromedp.Run / chromedp.Do
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
	dataDir     string

	consoleDone chan struct{}
	mu          sync.Mutex
	console     []string // what the page wrote to its console, for failure reports

	closeOnce sync.Once
}

// chromiumFlags is the verified set of docs/protocol.md §P.4, on top of chromedp's defaults (which already give
// headless, no-first-run, disable-background-networking and disable-sync).
func chromiumFlags(dataDir string) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(dataDir), // a new empty profile per browser
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// getUserMedia: NotFoundError without the fake device, NotAllowedError without the fake UI.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// Without it Chromium offers no 127.0.0.1 candidate and ICE with a loopback-only server never
		// completes.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// Raw host candidates, never mDNS .local ones (a loopback-only namespace gathers nothing
		// otherwise). This flag replaces chromedp's own disable-features value, so repeat it
		// (docs/protocol.md §P.7).
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		// No DNS lookups of Google hosts; EXCLUDE keeps the pages on 127.0.0.1 reachable.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
}

// IgnoreCertificateErrors makes Chromium accept any TLS certificate, e.g. a signal node's self-signed
// one on wss:// (README "TLS"). Only for the tests that need it: pass it to LaunchBrowser.
var IgnoreCertificateErrors = chromedp.Flag("ignore-certificate-errors", true)

// LaunchBrowser starts Chromium and opens its tab. parent bounds the whole browser's life: do not give it
// a short deadline (chromedp.Run docs); bound single steps with contexts derived from Browser.Context.
// extra options (e.g. IgnoreCertificateErrors) come after the verified flags.
func LaunchBrowser(parent context.Context, extra ...chromedp.ExecAllocatorOption) (*Browser, error) {
	if !ChromiumAvailable() {
		return nil, fmt.Errorf("launch browser: %s not found (run scripts/deps.sh)", ChromiumPath)
	}
	dataDir, err := os.MkdirTemp("", "potok-e2e-chromium-")
	if err != nil {
		return nil, fmt.Errorf("launch browser: profile dir: %w", err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, append(chromiumFlags(dataDir), extra...)...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b := &Browser{
		ctx:         tabCtx,
		cancelTab:   cancelTab,
		cancelAlloc: cancelAlloc,
		dataDir:     dataDir,
		consoleDone: make(chan struct{}),
	}
	// The first Run starts the browser and the tab; it lives as long as parent.
	if err := chromedp.Do(tabCtx); err != nil {
		close(b.consoleDone)
		b.Close()
		return nil, fmt.Errorf("launch browser %s: %w", ChromiumPath, err)
	}
	messages := chromedp.Console(tabCtx)
	go b.readConsole(messages)
	return b, nil
}

// readConsole keeps what the page logs; it ends when the tab's context ends (Close).
func (b *Browser) readConsole(messages iter.Seq2[chromedp.ConsoleMessage, error]) {
	defer close(b.consoleDone)
	for m, err := range messages {
		if err != nil {
			return
		}
		b.mu.Lock()
		b.console = append(b.console, fmt.Sprintf("%s %s: %s", m.Time.UTC().Format("15:04:05.000"), m.Type, m.Text))
		b.mu.Unlock()
	}
}

// Context is the tab's chromedp context.
func (b *Browser) Context() context.Context { return b.ctx }

// Console returns the page's console lines so far.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Navigate loads url in the tab and waits for its load event.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	ctx, cancel := b.derive(ctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("navigate %s: %w", url, err)
	}
	return nil
}

// EvalJSON evaluates a JavaScript expression in the page (awaiting a promise) and returns its value as
// JSON bytes.
func (b *Browser) EvalJSON(ctx context.Context, expr string) ([]byte, error) {
	ctx, cancel := b.derive(ctx)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", abbreviate(expr), err)
	}
	return v, nil
}

// WaitJSON polls expr every interval until it yields a value that is not null/undefined/false, and
// returns that value as JSON. It returns ctx's error (and the last error seen) when ctx ends first.
func (b *Browser) WaitJSON(ctx context.Context, expr string, interval time.Duration) ([]byte, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		v, err := b.EvalJSON(ctx, expr)
		switch {
		case err != nil:
			last = err
		case len(v) > 0 && string(v) != "null" && string(v) != "false":
			return v, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("wait for %q: %w", abbreviate(expr), ctx.Err()), last)
		case <-t.C:
		}
	}
}

// derive makes a context that runs on the tab and ends with ctx (the caller's deadline).
func (b *Browser) derive(ctx context.Context) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithCancel(b.ctx)
	stop := context.AfterFunc(ctx, cancel)
	return tctx, func() { stop(); cancel() }
}

// Close ends the browser, waits for its process and the console reader, and removes the profile.
func (b *Browser) Close() error {
	var err error
	b.closeOnce.Do(func() {
		_ = chromedp.Cancel(b.ctx) // closes the browser gracefully and waits for it
		b.cancelTab()
		b.cancelAlloc() // waits for the process
		<-b.consoleDone
		err = os.RemoveAll(b.dataDir)
	})
	return err
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
