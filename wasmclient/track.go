//go:build !js

package wasmclient

import "github.com/pion/webrtc/v4"

// TrackFunc takes a played remote track over (PlayOptions.OnTrack).
type TrackFunc func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
