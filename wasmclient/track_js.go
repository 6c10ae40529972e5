//go:build js

package wasmclient

// TrackFunc stands for the native build's remote-track hook (PlayOptions.OnTrack), which takes
// RTP packets over. The browser decodes its tracks itself and gives Go none, so the js build
// never calls it: show Stream.MediaStream in a <video> instead.
type TrackFunc func()
