//go:build !js

package wasmclient

import "github.com/potok-media/potok/wasmclient/media"

// Source is what a publisher sends on one track. Natively it is a media.Source (synthetic VP8
// and Opus, IVF, Annex-B and Ogg files) that the client packetizes itself; in the browser build
// (source_js.go) it is a MediaStreamTrack from the camera, the microphone, the screen or a canvas.
type Source = media.Source
