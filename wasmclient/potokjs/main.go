//go:build js

// Command potokjs is the WebAssembly half of the browser client: wasmclient compiled to js/wasm,
// its sessions and streams handed to JavaScript as objects whose methods return promises.
// potok.js (webclient/static) loads it with Go's wasm_exec.js and wraps it in the page-facing
// API (potok.d.ts); pages never call this layer directly. Built by `make wasm`.
//
// Every method starts a goroutine and returns a promise, because wasmclient blocks (on the
// WebSocket, on the browser's promises) and a blocked callback would hold the event loop.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"syscall/js"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/wasmclient"
)

// opTimeout bounds connect, getUserMedia and the other single operations a page asks for.
const opTimeout = 30 * time.Second

func main() {
	api := js.Global().Get("Object").New()
	api.Set("connect", js.FuncOf(connect))
	js.Global().Set("__potokGo", api)
	if ready := js.Global().Get("__potokReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {} // the functions above live as long as the page
}

// promise runs f on a goroutine and settles a new Promise with its result.
func promise(f func(ctx context.Context) (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		executor.Release()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			v, err := f(ctx)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

// method builds a JS function for an object (its functions live as long as the page: a
// session's few closures are not worth the bookkeeping of releasing them).
func method(obj js.Value, name string, f func(args []js.Value) any) {
	obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any { return f(args) }))
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// toJS turns a Go value into a plain JS object through JSON.
func toJS(v any) js.Value {
	b, err := json.Marshal(v)
	if err != nil {
		return js.Null()
	}
	return js.Global().Get("JSON").Call("parse", string(b))
}

// fromJS reads a JS value as JSON into v (undefined leaves v alone).
func fromJS(o js.Value, v any) error {
	if o.IsUndefined() || o.IsNull() {
		return nil
	}
	return json.Unmarshal([]byte(js.Global().Get("JSON").Call("stringify", o).String()), v)
}

// sessionOptions is connect's second argument (potok.d.ts ConnectOptions).
type sessionOptions struct {
	AppKey    string          `json:"appKey"`
	Custom    json.RawMessage `json:"custom"`
	KeepAlive bool            `json:"keepAlive"`
	AuthToken string          `json:"authToken"`
	Reconnect bool            `json:"reconnect"`
	// ReconnectFor in seconds (default 60).
	ReconnectFor float64 `json:"reconnectFor"`
}

// connect(url, options, onEvent) → Promise<session>.
func connect(_ js.Value, args []js.Value) any {
	url, onEvent := arg(args, 0).String(), arg(args, 2)
	var o sessionOptions
	if err := fromJS(arg(args, 1), &o); err != nil {
		return rejected(err)
	}
	return promise(func(ctx context.Context) (any, error) {
		so := wasmclient.SessionOptions{AppKey: o.AppKey, Custom: o.Custom, ClientBrowserVersion: browserVersion(),
			OnData:    func(ev wasmclient.DataEvent) { emit(onEvent, "data", ev) },
			Reconnect: o.Reconnect, ReconnectFor: time.Duration(o.ReconnectFor * float64(time.Second)),
			OnStatus: func(status string, err error) {
				ev := map[string]any{"status": status}
				if err != nil {
					ev["info"] = err.Error()
				}
				emit(onEvent, "session", ev)
			}}
		if o.KeepAlive || o.AuthToken != "" {
			so.Extra = map[string]any{"keepAlive": o.KeepAlive}
			if o.AuthToken != "" {
				so.Extra["authToken"] = o.AuthToken
			}
		}
		s, err := wasmclient.Connect(ctx, url, so)
		if err != nil {
			return nil, err
		}
		return sessionObject(s), nil
	})
}

func rejected(err error) js.Value {
	return js.Global().Get("Promise").Call("reject", js.Global().Get("Error").New(err.Error()))
}

func browserVersion() string {
	return js.Global().Get("navigator").Get("userAgent").String()
}

func emit(fn js.Value, kind string, v any) {
	if fn.Type() == js.TypeFunction {
		fn.Invoke(kind, toJS(v))
	}
}

func sessionObject(s *wasmclient.Session) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("authToken", s.AuthToken())
	method(o, "status", func([]js.Value) any { return s.Status() })
	method(o, "publish", func(args []js.Value) any { return publish(s, arg(args, 0), arg(args, 1)) })
	method(o, "play", func(args []js.Value) any { return play(s, arg(args, 0), arg(args, 1)) })
	method(o, "sendData", func(args []js.Value) any {
		var payload json.RawMessage
		if err := fromJS(arg(args, 0), &payload); err != nil {
			return rejected(err)
		}
		return promise(func(ctx context.Context) (any, error) {
			st, err := s.SendData(ctx, payload)
			if err != nil {
				return nil, err
			}
			return toJS(st), nil
		})
	})
	method(o, "availableStream", func(args []js.Value) any {
		name := arg(args, 0).String()
		return promise(func(ctx context.Context) (any, error) {
			ok, info, err := s.AvailableStream(ctx, name)
			if err != nil {
				return nil, err
			}
			return toJS(map[string]any{"available": ok, "info": info}), nil
		})
	})
	method(o, "disconnect", func([]js.Value) any {
		return promise(func(context.Context) (any, error) { return nil, s.Close() })
	})
	return o
}

// publishOptions is publish's first argument (potok.d.ts PublishOptions) without its JS objects.
type publishOptions struct {
	Name       string          `json:"name"`
	Record     bool            `json:"record"`
	Custom     json.RawMessage `json:"custom"`
	MinBitrate int             `json:"minBitrate"`
	MaxBitrate int             `json:"maxBitrate"`
	Transport  string          `json:"transport"`
}

// publish(options, onEvent) → Promise<stream>. The media: options.stream (a MediaStream of the
// page, left running at the end), else options.screen (getDisplayMedia) or options.canvas
// (captureStream), else the camera and microphone (options.video / options.audio: true, false or
// constraints); what publish opened it stops when the stream ends.
func publish(s *wasmclient.Session, opts, onEvent js.Value) js.Value {
	var o publishOptions
	if err := fromJS(opts, &o); err != nil {
		return rejected(err)
	}
	return promise(func(ctx context.Context) (any, error) {
		ms, owned, err := openMedia(ctx, opts)
		if err != nil {
			return nil, err
		}
		po := wasmclient.PublishOptions{Name: o.Name, Record: o.Record, Custom: o.Custom,
			MinBitrate: o.MinBitrate, MaxBitrate: o.MaxBitrate, Transport: o.Transport,
			Video: ms.VideoTrack(), Audio: ms.AudioTrack()}
		if opts.Get("video").Equal(js.ValueOf(false)) {
			po.Video = nil
		}
		if opts.Get("audio").Equal(js.ValueOf(false)) {
			po.Audio = nil
		}
		st, err := s.Publish(ctx, po)
		if err != nil {
			if owned {
				ms.Stop()
			}
			return nil, err
		}
		if el := opts.Get("display"); el.Truthy() {
			el.Set("muted", true) // a local preview: no echo, and muted media may autoplay
			ms.AttachTo(el)
		}
		done := func() {
			if owned {
				ms.Stop()
			}
		}
		go streamEvents(s, st, onEvent, done)
		return streamObject(st, ms), nil
	})
}

func openMedia(ctx context.Context, opts js.Value) (ms *wasmclient.MediaStream, owned bool, err error) {
	if v := opts.Get("stream"); v.Truthy() {
		return wasmclient.NewMediaStream(v), false, nil
	}
	if c := opts.Get("canvas"); c.Truthy() {
		ms, err := wasmclient.CanvasStream(c, opts.Get("fps").Float())
		return ms, true, err
	}
	constraint := func(name string, def any) any {
		v := opts.Get(name)
		if v.IsUndefined() {
			return def
		}
		var c any
		if err := fromJS(v, &c); err != nil {
			return def
		}
		return c
	}
	if opts.Get("screen").Truthy() {
		ms, err := wasmclient.DisplayMedia(ctx, map[string]any{"video": constraint("screen", true), "audio": false})
		return ms, true, err
	}
	video, audio := constraint("video", true), constraint("audio", true)
	if video == false && audio == false {
		return nil, false, errors.New("publish: neither video nor audio")
	}
	ms, err = wasmclient.UserMedia(ctx, map[string]any{"video": video, "audio": audio})
	return ms, true, err
}

// playOptions is play's first argument (potok.d.ts PlayOptions) without its JS objects.
type playOptions struct {
	Name      string          `json:"name"`
	Width     int             `json:"width"`
	Height    int             `json:"height"`
	NoAudio   bool            `json:"noAudio"`
	Custom    json.RawMessage `json:"custom"`
	Transport string          `json:"transport"`
}

// play(options, onEvent) → Promise<stream>; options.display is the <video> it plays into.
func play(s *wasmclient.Session, opts, onEvent js.Value) js.Value {
	var o playOptions
	if err := fromJS(opts, &o); err != nil {
		return rejected(err)
	}
	return promise(func(ctx context.Context) (any, error) {
		st, err := s.Play(ctx, wasmclient.PlayOptions{Name: o.Name, Width: o.Width, Height: o.Height,
			NoAudio: o.NoAudio, Custom: o.Custom, Transport: o.Transport})
		if err != nil {
			return nil, err
		}
		ms := st.MediaStream()
		if el := opts.Get("display"); el.Truthy() {
			ms.AttachTo(el)
		}
		go streamEvents(s, st, onEvent, func() {})
		return streamObject(st, ms), nil
	})
}

// event is a wasmclient.StreamEvent for the page: only the fields its kind fills.
type event struct {
	Kind        string           `json:"kind"`
	Status      string           `json:"status,omitempty"`
	Info        string           `json:"info,omitempty"`
	Stream      *wcs.Stream      `json:"stream,omitempty"`
	VideoFormat *wcs.VideoFormat `json:"videoFormat,omitempty"`
	Event       *wcs.StreamEvent `json:"event,omitempty"`
	Rate        *wcs.VideoRate   `json:"rate,omitempty"`
}

func pageEvent(e wasmclient.StreamEvent) event {
	ev := event{Kind: e.Kind}
	switch e.Kind {
	case wcs.MsgNotifyVideoFormat:
		ev.VideoFormat = &e.VideoFormat
	case wcs.MsgNotifyStreamEvent:
		ev.Event = &e.Event
	case wcs.MsgInboundVideoRate, wcs.MsgOutboundVideoRate:
		ev.Rate = &e.Rate
	default: // a status: notifyStreamStatusEvent, fail, local
		ev.Kind, ev.Status, ev.Info, ev.Stream = "status", e.Stream.Status, e.Stream.Info, &e.Stream
	}
	return ev
}

// streamEvents hands the stream's events to the page until its terminal status, then runs done.
func streamEvents(s *wasmclient.Session, st *wasmclient.Stream, onEvent js.Value, done func()) {
	defer done()
	deliver := func(e wasmclient.StreamEvent) bool {
		ev := pageEvent(e)
		emit(onEvent, ev.Kind, ev)
		return ev.Kind == "status" && wasmclient.IsTerminal(ev.Status)
	}
	for {
		select {
		case e := <-st.Events():
			if deliver(e) {
				return
			}
		case <-s.Done():
			for { // the session's end made every stream terminal: deliver what is queued
				select {
				case e := <-st.Events():
					if deliver(e) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

func streamObject(st *wasmclient.Stream, ms *wasmclient.MediaStream) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("id", st.MediaSessionID())
	o.Set("name", st.Name())
	o.Set("published", st.Published())
	o.Set("mediaStream", ms.JSValue())
	method(o, "status", func([]js.Value) any { return st.Status() })
	method(o, "info", func([]js.Value) any { return st.Info() })
	method(o, "stop", func([]js.Value) any {
		return promise(func(ctx context.Context) (any, error) { return nil, st.Stop(ctx) })
	})
	mute := map[string]func(*wasmclient.Stream, context.Context) error{
		"muteAudio": (*wasmclient.Stream).MuteAudio, "unmuteAudio": (*wasmclient.Stream).UnmuteAudio,
		"muteVideo": (*wasmclient.Stream).MuteVideo, "unmuteVideo": (*wasmclient.Stream).UnmuteVideo,
	}
	for name, f := range mute {
		method(o, name, func([]js.Value) any {
			return promise(func(ctx context.Context) (any, error) { return nil, f(st, ctx) })
		})
	}
	method(o, "getStats", func([]js.Value) any {
		return promise(func(context.Context) (any, error) {
			if st.Published() {
				return toJS(st.SendStats()), nil
			}
			return toJS(st.ReceiveStats()), nil
		})
	})
	return o
}
