//go:build js

package wasmclient

import (
	"context"
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// jsPeer is the browser media side of a Stream: an RTCPeerConnection driven through syscall/js.
// The browser captures, encodes, decodes and paces; Go only negotiates, as the WebSDK's
// webrtc-media-provider.js does. Its callbacks run on the event loop and never block.
type jsPeer struct {
	st     *Stream
	pc     js.Value
	sdp    string
	stream js.Value // publisher: the tracks sent; player: the remote tracks as they arrive

	mu        sync.Mutex
	funcs     []js.Func // released by close
	firstRecv bool
}

// statsTimeout bounds one getStats call.
const statsTimeout = 5 * time.Second

func newJSPeer(st *Stream) (*jsPeer, error) {
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.IsUndefined() {
		return nil, fmt.Errorf("%w: no RTCPeerConnection in this JavaScript environment", ErrBrowser)
	}
	// max-compat as the WebSDK's RTCPeerConnection config (docs/protocol.md §H.3); no ICE servers.
	cfg := map[string]any{"bundlePolicy": "max-compat", "iceServers": []any{}}
	p := &jsPeer{st: st, pc: ctor.New(cfg), stream: js.Global().Get("MediaStream").New()}
	p.on("connectionstatechange", func(js.Value) {
		switch p.pc.Get("connectionState").String() {
		case "connected":
			st.markConnected()
		case "failed":
			// Ending the stream closes this peer connection: not inside its own callback.
			st.s.group.Go(st.peerFailed)
		}
	})
	return p, nil
}

// on sets pc.on<event>; close clears and releases every handler.
func (p *jsPeer) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(arg0(args))
		return nil
	})
	p.keep(fn)
	p.pc.Set("on"+event, fn)
}

func (p *jsPeer) keep(fn js.Func) {
	p.mu.Lock()
	p.funcs = append(p.funcs, fn)
	p.mu.Unlock()
}

func newPublishPeer(st *Stream, o PublishOptions) (peer, error) {
	p, err := newJSPeer(st)
	if err != nil {
		return nil, err
	}
	// Audio first, then video: the order of MediaStream.getTracks() that the SDK adds.
	for _, src := range []Source{o.Audio, o.Video} {
		if src == nil {
			continue
		}
		p.stream.Call("addTrack", src.v)
		init := map[string]any{"direction": "sendonly", "streams": []any{p.stream}}
		if _, err := call(p.pc, "addTransceiver", src.v, init); err != nil {
			p.close()
			return nil, fmt.Errorf("wasmclient: add %s: %w", src.Kind(), err)
		}
	}
	return p, p.createOffer()
}

func newPlayPeer(st *Stream, o PlayOptions) (peer, error) {
	p, err := newJSPeer(st)
	if err != nil {
		return nil, err
	}
	kinds := []string{"audio", "video"}
	if o.NoAudio {
		kinds = kinds[1:]
	}
	for _, k := range kinds {
		if _, err := call(p.pc, "addTransceiver", k, map[string]any{"direction": "recvonly"}); err != nil {
			p.close()
			return nil, fmt.Errorf("wasmclient: add %s transceiver: %w", k, err)
		}
	}
	p.on("track", func(ev js.Value) {
		track := ev.Get("track")
		p.stream.Call("addTrack", track)
		// A remote track is muted until its first packets arrive.
		unmute := js.FuncOf(func(js.Value, []js.Value) any {
			p.mu.Lock()
			first := !p.firstRecv
			p.firstRecv = true
			p.mu.Unlock()
			if first {
				st.markFirstPacket(time.Now())
			}
			return nil
		})
		p.keep(unmute)
		track.Call("addEventListener", "unmute", unmute, map[string]any{"once": true})
	})
	return p, p.createOffer()
}

// createOffer sends the offer as createOffer returns it: no candidates, as the WebSDK does
// (docs/protocol.md §H.3); setLocalDescription starts gathering, the server learns us as
// peer-reflexive.
func (p *jsPeer) createOffer() error {
	ctx := p.st.s.ctx
	offer, err := p.await(ctx, "createOffer")
	if err != nil {
		p.close()
		return fmt.Errorf("wasmclient: create offer: %w", err)
	}
	if _, err := p.await(ctx, "setLocalDescription", offer); err != nil {
		p.close()
		return fmt.Errorf("wasmclient: set local offer: %w", err)
	}
	p.sdp = offer.Get("sdp").String()
	return nil
}

func (p *jsPeer) await(ctx context.Context, method string, args ...any) (js.Value, error) {
	pr, err := call(p.pc, method, args...)
	if err != nil {
		return js.Undefined(), err
	}
	return await(ctx, pr)
}

func (p *jsPeer) offer() string { return p.sdp }

func (p *jsPeer) setAnswer(sdp string) error {
	if _, err := p.await(p.st.s.ctx, "setRemoteDescription", map[string]any{"type": "answer", "sdp": sdp}); err != nil {
		return fmt.Errorf("wasmclient: set remote answer: %w", err)
	}
	return nil
}

// close closes the peer connection and releases its callbacks. The tracks a publisher sent
// belong to the caller (stop them with MediaStream.Stop), the received ones end with the
// connection.
func (p *jsPeer) close() {
	for _, ev := range []string{"connectionstatechange", "track"} {
		p.pc.Set("on"+ev, js.Null())
	}
	p.pc.Call("close")
	p.mu.Lock()
	funcs := p.funcs
	p.funcs = nil
	p.mu.Unlock()
	for _, fn := range funcs {
		fn.Release()
	}
}

// mute disables (or enables) the kind's sent track: the browser then sends black frames or
// silence, as the WebSDK's muteVideo/muteAudio do.
func (p *jsPeer) mute(kind string, muted bool) bool {
	tracks := p.stream.Call("getTracks")
	found := false
	for i := range tracks.Length() {
		if t := tracks.Index(i); t.Get("kind").String() == kind {
			t.Set("enabled", !muted)
			found = true
		}
	}
	return found
}

// stats reads getStats() into id → report, and calls f for each rtp report of kind.
func (p *jsPeer) stats() (map[string]js.Value, error) {
	ctx, cancel := context.WithTimeout(p.st.s.ctx, statsTimeout)
	defer cancel()
	report, err := p.await(ctx, "getStats")
	if err != nil {
		return nil, fmt.Errorf("wasmclient: getStats: %w", err)
	}
	all := map[string]js.Value{}
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := arg0(args)
		all[v.Get("id").String()] = v
		return nil
	})
	defer each.Release()
	report.Call("forEach", each)
	return all, nil
}

// receiveStats maps inbound-rtp to ReceiveStats: packetsReceived, bytesReceived (payload bytes),
// framesDecoded, keyFramesDecoded, frameWidth/Height and the codec's mimeType. FirstPacket is when
// the first remote track unmuted; FirstKeyframe is not known in the browser.
func (p *jsPeer) receiveStats() ReceiveStats {
	all, err := p.stats()
	if err != nil {
		p.st.s.log.Debug().Err(err).Msg("receive stats")
		return ReceiveStats{}
	}
	var r ReceiveStats
	for _, v := range all {
		if v.Get("type").String() != "inbound-rtp" {
			continue
		}
		switch v.Get("kind").String() {
		case "video":
			r.VideoPackets, r.VideoBytes = num(v, "packetsReceived"), num(v, "bytesReceived")
			r.FramesDecoded, r.Keyframes = num(v, "framesDecoded"), num(v, "keyFramesDecoded")
			r.Width, r.Height = int(num(v, "frameWidth")), int(num(v, "frameHeight"))
			if c, ok := all[v.Get("codecId").String()]; ok {
				r.VideoCodec = c.Get("mimeType").String()
			}
		case "audio":
			r.AudioPackets, r.AudioBytes = num(v, "packetsReceived"), num(v, "bytesReceived")
		}
	}
	p.st.mu.Lock()
	r.FirstPacket = p.st.timeline.FirstPacket
	p.st.mu.Unlock()
	return r
}

// sendStats maps outbound-rtp to SendStats (see TrackSendStats).
func (p *jsPeer) sendStats() SendStats {
	all, err := p.stats()
	if err != nil {
		p.st.s.log.Debug().Err(err).Msg("send stats")
		return SendStats{}
	}
	var s SendStats
	for _, v := range all {
		if v.Get("type").String() != "outbound-rtp" {
			continue
		}
		t := TrackSendStats{
			Frames: num(v, "framesEncoded"), Keyframes: num(v, "keyFramesEncoded"),
			Packets: num(v, "packetsSent"), Bytes: num(v, "bytesSent"),
			KeyframeRequests: num(v, "pliCount") + num(v, "firCount"),
		}
		if v.Get("kind").String() == "video" {
			s.Video = t
		} else {
			s.Audio = t
		}
	}
	return s
}

// num reads a numeric stats field, 0 when absent.
func num(v js.Value, field string) uint64 {
	f := v.Get(field)
	if f.Type() != js.TypeNumber {
		return 0
	}
	return uint64(f.Float())
}
