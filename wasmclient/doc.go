// Package wasmclient is Potok's Go client of the WCS raw WebSocket protocol. It behaves like the
// official Flashphoner WebSDK on the wire (docs/protocol.md §0, §B, §E): a `connection` message answered
// by `getUserData`, client-generated UUID mediaSessionIds, offers straight from createOffer with no
// candidates and no trickle, `pong` answers to the server's `ping`.
//
// A Session is one WebSocket; a Stream is one publish or play on it with its own peer connection.
// Natively the media side is pion/webrtc (peer.go, api.go, receive.go, dial.go, source.go); those
// are the only files that touch the platform, and their GOOS=js twins (peer_js.go, dial_js.go,
// source_js.go, stream_js.go, promise_js.go) drive the browser's own WebSocket, RTCPeerConnection,
// getUserMedia and getDisplayMedia through syscall/js, the way pion keeps its *_js.go files: one
// API for both, with a Source that is a media.Source natively and a MediaStreamTrack in the
// browser. wasmclient/potokjs hands it to JavaScript (potok.js, package webclient).
package wasmclient
