//go:build js

package wasmclient

import "errors"

// ErrNoBrowserMedia is returned by Publish and Play in the GOOS=js build until the browser twin of
// peer.go (wrapping RTCPeerConnection through pion's js build) is written. Signalling works.
var ErrNoBrowserMedia = errors.New("wasmclient: publish/play are not implemented in the js/wasm build yet")

func newPublishPeer(*Stream, PublishOptions) (peer, error) { return nil, ErrNoBrowserMedia }

func newPlayPeer(*Stream, PlayOptions) (peer, error) { return nil, ErrNoBrowserMedia }
