//go:build js

package wasmclient

// MediaStream is what the stream carries in the page: a publisher's sent tracks (for a local
// preview), a player's remote tracks as they arrive (attach it to a <video>, MediaStream.AttachTo).
func (st *Stream) MediaStream() *MediaStream {
	return &MediaStream{v: st.peer.(*jsPeer).stream}
}
