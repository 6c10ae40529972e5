package webclient

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// WebSDKPrefix is where a signal node serves the Flashphoner WebSDK's own examples, as WCS does
// at /client2/: a WCS user finds the pages they know (examples/demo/streaming/…) on the same host.
const WebSDKPrefix = "/client2/"

// WebSDKHandler serves an installed @flashphoner/websdk npm package (its directory: flashphoner.js
// and examples/) at WebSDKPrefix, unmodified: the examples load ../../../../flashphoner.js, which
// resolves to /client2/flashphoner.js. The package is never copied into Potok.
func WebSDKHandler(dir string) (http.Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, "flashphoner.js")); err != nil {
		return nil, fmt.Errorf("webclient: %s is not the @flashphoner/websdk package: %w", dir, err)
	}
	files := http.StripPrefix(WebSDKPrefix[:len(WebSDKPrefix)-1], http.FileServer(http.Dir(dir)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == WebSDKPrefix {
			http.Redirect(w, r, WebSDKPrefix+"examples/demo/streaming/two_way_streaming/two_way_streaming.html", http.StatusFound)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}), nil
}
