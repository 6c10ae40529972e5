//go:build js

package wasmclient

// TrackFunc stands for the native build's track hook: the js build plays no media yet
// (ErrNoBrowserMedia), so it is never called.
type TrackFunc func()
