package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// assetMounts maps URL prefixes to directories below the e2e directory. The npm packages are served as
// installed (unmodified); web/ holds Potok's own pages.
var assetMounts = []struct{ prefix, dir string }{
	{"/websdk/", "node_modules/@flashphoner/websdk"},
	{"/mocha/", "node_modules/mocha"},
	{"/chai/", "node_modules/chai"},
	{"/", "web"},
}

// NewAssetHandler serves the test pages and the npm packages they load, from e2eDir (the directory that
// holds package.json, node_modules and web). It fails when `npm ci --prefix e2e` has not run.
func NewAssetHandler(e2eDir string) (http.Handler, error) {
	sdk := filepath.Join(e2eDir, "node_modules/@flashphoner/websdk/flashphoner.js")
	if _, err := os.Stat(sdk); err != nil {
		return nil, fmt.Errorf("assets: %w (run scripts/deps.sh)", err)
	}
	mux := http.NewServeMux()
	for _, m := range assetMounts {
		fs := http.FileServer(http.Dir(filepath.Join(e2eDir, m.dir)))
		mux.Handle(m.prefix, noStore(http.StripPrefix(m.prefix[:len(m.prefix)-1], fs)))
	}
	// Chromium asks for it on every page; a 404 would show up as a console error (docs/protocol.md §P.8).
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return mux, nil
}

// noStore keeps the browser from caching between runs, so edited pages are always reloaded.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
