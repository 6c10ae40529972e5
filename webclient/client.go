// Package webclient serves the browser client at /client/ on a signal node's HTTP port: the demo
// pages, potok.js and potok.d.ts (static/), and the WebAssembly build of wasmclient
// (wasmclient/potokjs) with the Go release's wasm_exec.js. `make wasm` writes those two into
// static/ as potok.wasm.gz and wasm_exec.js (not committed), so a binary built after it embeds
// them; potok.wasm is served precompressed.
package webclient

import (
	"compress/gzip"
	"embed"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Prefix is where the client is served.
const Prefix = "/client/"

// Built files: what `make wasm` adds to static/.
const (
	WasmGzip = "potok.wasm.gz"
	WasmExec = "wasm_exec.js"
)

//go:embed static
var embedded embed.FS

// Options configure Handler.
type Options struct {
	// Files come before the embedded ones (e.g. a potok.wasm.gz and wasm_exec.js a test built);
	// nil: only what the binary embeds.
	Files fs.FS
}

// Handler serves Prefix. A missing potok.wasm (a binary built without `make wasm`) is a 404
// that says so.
func Handler(o Options) http.Handler {
	static, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // the directive above guarantees the directory
	}
	files := fs.FS(static)
	if o.Files != nil {
		files = overlay{o.Files, static}
	}
	fileServer := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), strings.TrimSuffix(Prefix, "/"))
		// The pages change with the binary: revalidate rather than run an old wasm with new pages.
		w.Header().Set("Cache-Control", "no-cache")
		// Public files: a page of another origin may load potok.js from here, which then fetches
		// potok.wasm (a CORS request).
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch {
		case name == "/potok.wasm":
			serveWasm(w, r, files)
			return
		case strings.HasSuffix(name, ".d.ts"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8") // not .ts: video/mp2t
		case strings.HasSuffix(name, ".gz"):
			http.NotFound(w, r)
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}

// serveWasm answers the gzipped build as is to a browser that takes gzip (all do), unpacked
// otherwise.
func serveWasm(w http.ResponseWriter, r *http.Request, files fs.FS) {
	f, err := files.Open(WasmGzip)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "potok.wasm is not in this build: run `make wasm`, then build potok", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer func() { _ = f.Close() }()
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		if st, err := f.Stat(); err == nil {
			if rs, ok := f.(io.ReadSeeker); ok {
				http.ServeContent(w, r, "", st.ModTime(), rs)
				return
			}
		}
		_, _ = io.Copy(w, f)
		return
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// overlay opens from top, then from base.
type overlay struct{ top, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}
