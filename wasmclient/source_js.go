//go:build js

package wasmclient

import (
	"context"
	"fmt"
	"syscall/js"
)

// Source is what a publisher sends on one track: in the browser a MediaStreamTrack (natively a
// media.Source, source.go). Get one from UserMedia (camera, microphone), DisplayMedia (screen),
// CanvasStream or any MediaStream the page has (NewMediaStream).
type Source = *Track

// Track is one browser MediaStreamTrack.
type Track struct{ v js.Value }

// NewTrack wraps a MediaStreamTrack; nil for null or undefined.
func NewTrack(v js.Value) *Track {
	if v.IsNull() || v.IsUndefined() {
		return nil
	}
	return &Track{v: v}
}

// JSValue is the MediaStreamTrack.
func (t *Track) JSValue() js.Value { return t.v }

// Kind is "audio" or "video".
func (t *Track) Kind() string { return t.v.Get("kind").String() }

// Stop ends the track (the camera light goes off once every track of the device stopped).
func (t *Track) Stop() { t.v.Call("stop") }

// MediaStream is a browser MediaStream: what UserMedia, DisplayMedia and CanvasStream return,
// what a publisher sends and a player receives (Stream.MediaStream).
type MediaStream struct{ v js.Value }

// NewMediaStream wraps a MediaStream of the page.
func NewMediaStream(v js.Value) *MediaStream { return &MediaStream{v: v} }

// JSValue is the MediaStream.
func (m *MediaStream) JSValue() js.Value { return m.v }

// VideoTrack is the first video track, nil when there is none.
func (m *MediaStream) VideoTrack() *Track { return NewTrack(m.v.Call("getVideoTracks").Index(0)) }

// AudioTrack is the first audio track, nil when there is none.
func (m *MediaStream) AudioTrack() *Track { return NewTrack(m.v.Call("getAudioTracks").Index(0)) }

// Stop stops every track of the stream.
func (m *MediaStream) Stop() {
	tracks := m.v.Call("getTracks")
	for i := range tracks.Length() {
		tracks.Index(i).Call("stop")
	}
}

// AttachTo shows the stream in a <video> (or <audio>) element and starts it playing. Where the
// browser refuses to autoplay sound (no click on the page yet) it plays muted: a picture rather
// than nothing; the page's controls (or element.muted = false after a click) bring the sound.
func (m *MediaStream) AttachTo(element js.Value) {
	element.Set("srcObject", m.v)
	element.Set("playsInline", true)
	p := element.Call("play")
	if p.Type() != js.TypeObject {
		return
	}
	var refused js.Func
	refused = js.FuncOf(func(js.Value, []js.Value) any {
		refused.Release()
		if !element.Get("muted").Bool() {
			element.Set("muted", true)
			element.Call("play").Call("catch", js.Global().Get("console").Get("debug").Call("bind", js.Global().Get("console")))
		}
		return nil
	})
	p.Call("then", js.Global().Get("Function").New(""), refused)
}

// UserMedia opens the camera and/or microphone: navigator.mediaDevices.getUserMedia(constraints),
// e.g. map[string]any{"video": map[string]any{"width": 640, "height": 480}, "audio": true}.
func UserMedia(ctx context.Context, constraints map[string]any) (*MediaStream, error) {
	return mediaDevices(ctx, "getUserMedia", constraints)
}

// DisplayMedia asks the user for a screen, window or tab: getDisplayMedia(constraints), e.g.
// map[string]any{"video": true}.
func DisplayMedia(ctx context.Context, constraints map[string]any) (*MediaStream, error) {
	return mediaDevices(ctx, "getDisplayMedia", constraints)
}

func mediaDevices(ctx context.Context, method string, constraints map[string]any) (*MediaStream, error) {
	md := js.Global().Get("navigator").Get("mediaDevices")
	if md.IsUndefined() {
		return nil, fmt.Errorf("%w: navigator.mediaDevices is missing (the page needs https:// or localhost)", ErrBrowser)
	}
	p, err := call(md, method, constraints)
	if err != nil {
		return nil, err
	}
	v, err := await(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return &MediaStream{v: v}, nil
}

// CanvasStream captures a <canvas> as a video stream at fps frames per second (0: a frame
// whenever the canvas is drawn): canvas.captureStream(fps).
func CanvasStream(canvas js.Value, fps float64) (*MediaStream, error) {
	var args []any
	if fps > 0 {
		args = append(args, fps)
	}
	v, err := call(canvas, "captureStream", args...)
	if err != nil {
		return nil, err
	}
	return &MediaStream{v: v}, nil
}
