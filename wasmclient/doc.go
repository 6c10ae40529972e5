// Package wasmclient is Potok's Go client of the WCS raw WebSocket protocol. It behaves like the
// official Flashphoner WebSDK on the wire (docs/protocol.md §0, §B, §E): a `connection` message answered
// by `getUserData`, client-generated UUID mediaSessionIds, offers straight from createOffer with no
// candidates and no trickle, `pong` answers to the server's `ping`.
//
// A Session is one WebSocket; a Stream is one publish or play on it with its own peer connection.
// Natively the media side is pion/webrtc (peer.go, api.go, receive.go); those are the only files
// that touch the platform, so GOOS=js twins can wrap the browser's RTCPeerConnection the way pion
// keeps its *_js.go files.
package wasmclient
