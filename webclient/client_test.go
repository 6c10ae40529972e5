package webclient

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func get(t *testing.T, h http.Handler, path, acceptEncoding string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHandlerServesWasmPrecompressed: potok.wasm goes out as the stored gzip to a browser that
// takes gzip, unpacked to one that does not; the .gz itself is not a page.
func TestHandlerServesWasmPrecompressed(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00 the build")
	packed := gz(t, wasm)
	h := Handler(Options{Files: fstest.MapFS{WasmGzip: {Data: packed}, WasmExec: {Data: []byte("// go")}}})

	res := get(t, h, "/client/potok.wasm", "gzip, deflate, br")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" ||
		res.Header.Get("Content-Type") != "application/wasm" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip request: %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("potok.wasm without CORS: a page of another origin cannot fetch it")
	}
	if got := body(t, res); got != string(packed) {
		t.Errorf("gzip body is not the stored file (%d bytes, want %d)", len(got), len(packed))
	}

	res = get(t, h, "/client/potok.wasm", "identity")
	if res.Header.Get("Content-Encoding") != "" || body(t, res) != string(wasm) {
		t.Errorf("identity request: %v, not the unpacked wasm", res.Header)
	}
	if res := get(t, h, "/client/potok.wasm.gz", "gzip"); res.StatusCode != http.StatusNotFound {
		t.Errorf("potok.wasm.gz: %d, want 404", res.StatusCode)
	}
	if res := get(t, h, "/client/wasm_exec.js", ""); body(t, res) != "// go" {
		t.Errorf("wasm_exec.js not from Options.Files")
	}
}

// TestHandlerPages: the demo pages, potok.js and its declarations are embedded; a build without
// the wasm says how to get it.
func TestHandlerPages(t *testing.T) {
	h := Handler(Options{Files: fstest.MapFS{}})
	for path, want := range map[string]string{
		"/client/":              "Potok browser client",
		"/client/two_way.html":  "Two-way streaming",
		"/client/player.html":   "Player",
		"/client/screen.html":   "Screen sharing",
		"/client/rates.html":    "Live rates",
		"/client/potok.js":      "Potok.connect",
		"/client/potok.d.ts":    "export interface Session",
		"/client/demo.js":       "window.__demo",
		"/client/style.css":     "video",
		"/client/missing.html":  "404 page not found",
		"/client/../client/x.s": "404 page not found",
	} {
		res := get(t, h, path, "gzip")
		if got := body(t, res); !strings.Contains(got, want) {
			t.Errorf("%s: %d %q does not contain %q", path, res.StatusCode, abbreviate(got), want)
		}
	}
	// A checkout where `make wasm` ran embeds the build.
	if _, err := fs.Stat(embedded, "static/"+WasmGzip); err != nil {
		if res := get(t, h, "/client/potok.wasm", "gzip"); res.StatusCode != http.StatusNotFound || !strings.Contains(body(t, res), "make wasm") {
			t.Errorf("potok.wasm without a build: %d", res.StatusCode)
		}
	} else if res := get(t, h, "/client/potok.wasm", "gzip"); res.StatusCode != http.StatusOK {
		t.Errorf("potok.wasm embedded: %d", res.StatusCode)
	}
	if ct := get(t, h, "/client/potok.d.ts", "").Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("potok.d.ts Content-Type %q", ct)
	}
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// TestWebSDKHandler serves the npm package of e2e/ (when installed) at /client2/: an example page
// and the flashphoner.js it loads; a directory without flashphoner.js is refused.
func TestWebSDKHandler(t *testing.T) {
	if _, err := WebSDKHandler(t.TempDir()); err == nil {
		t.Error("a directory without flashphoner.js accepted")
	}
	dir := "../e2e/node_modules/@flashphoner/websdk"
	h, err := WebSDKHandler(dir)
	if err != nil {
		t.Skipf("npm package not installed (scripts/deps.sh): %v", err)
	}
	res := get(t, h, "/client2/", "")
	if res.StatusCode != http.StatusFound || !strings.HasSuffix(res.Header.Get("Location"), "two_way_streaming.html") {
		t.Errorf("/client2/: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	page := "/client2/examples/demo/streaming/two_way_streaming/two_way_streaming.html"
	if res := get(t, h, page, ""); res.StatusCode != http.StatusOK || !strings.Contains(body(t, res), "flashphoner.js") {
		t.Errorf("%s: %d", page, res.StatusCode)
	}
	if res := get(t, h, "/client2/flashphoner.js", ""); res.StatusCode != http.StatusOK {
		t.Errorf("flashphoner.js: %d", res.StatusCode)
	}
}
