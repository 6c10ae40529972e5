package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/mediactl"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/testkit/testwait"
)

// memMedia is an in-process directory and daemon with the contract's semantics (create-if-absent
// names, revision-checked release). The fuzzer needs thousands of sessions a second, which rules
// out a NATS round trip per request; the NATS path is tested in package signal.
type memMedia struct {
	mu      sync.Mutex
	streams map[string]control.StreamRecord
	revs    map[string]uint64
	rev     uint64
	fail    bool // answer publish/play with an error
}

func newMemMedia() *memMedia {
	return &memMedia{streams: map[string]control.StreamRecord{}, revs: map[string]uint64{}}
}

func (m *memMedia) PickMediaNode() (string, error)       { return "md", nil }
func (m *memMedia) PickRelayNode(string) (string, error) { return "", mediactl.ErrNoMediaNode }
func (m *memMedia) MediaNodeAlive(string) bool           { return true }

func (m *memMedia) ClaimStream(_ context.Context, rec control.StreamRecord) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.streams[rec.Name]; ok {
		return 0, mediactl.ErrNameInUse
	}
	m.rev++
	m.streams[rec.Name], m.revs[rec.Name] = rec, m.rev
	return m.rev, nil
}

func (m *memMedia) ReleaseStream(_ context.Context, name string, rev uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[name] == rev {
		delete(m.streams, name)
		delete(m.revs, name)
	}
	return nil
}

func (m *memMedia) LookupStream(_ context.Context, name string) (control.StreamRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.streams[name]
	if !ok {
		return rec, mediactl.ErrNotPublished
	}
	return rec, nil
}

func (m *memMedia) Publish(context.Context, string, control.PublishRequest) (control.PublishReply, error) {
	if m.fail {
		return control.PublishReply{Error: wcs.InfoNoCommonCodecs}, nil
	}
	return control.PublishReply{Answer: "v=0\r\nm=audio 9 X 111\r\nm=video 9 X 96\r\n", AudioCodec: "opus", VideoCodec: "VP8"}, nil
}

func (m *memMedia) Play(context.Context, string, control.PlayRequest) (control.PlayReply, error) {
	if m.fail {
		return control.PlayReply{Error: wcs.InfoStreamFailed}, nil
	}
	return control.PlayReply{Answer: "v=0\r\n", HasAudio: true, HasVideo: true, Width: 320, Height: 240}, nil
}

func (m *memMedia) Stop(context.Context, string, control.StopRequest) error { return nil }

func (m *memMedia) StreamEvent(context.Context, string, control.StreamEventRequest) error { return nil }

// recorder is an Outbox that keeps every frame.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) Send(b []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, b)
	return true
}

// Close records nothing: a test reads what was sent.
func (r *recorder) Close(websocket.StatusCode, string) {}

func newTestSession(media Media, out Outbox) *Session {
	m, _ := metrics.New(nil)
	return New(Config{NodeID: "sig", SessionID: "sess", MediaTimeout: time.Second}, media, out, m, zerolog.Nop())
}

// checkInvariants verifies what the SDK relies on (docs/protocol.md §0, §C.5, §H.4) over every frame
// sent: each is an envelope with an array data; within one life of an id (until its terminal status,
// after which the SDK forgets it) setRemoteSDP comes at most once, and PUBLISHING/PLAYING at most
// once and only after setRemoteSDP.
func checkInvariants(t *testing.T, frames [][]byte) {
	t.Helper()
	type life struct{ answered, connected bool }
	lives := map[string]*life{}
	for _, f := range frames {
		var env struct {
			Message string            `json:"message"`
			Data    []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(f, &env); err != nil || env.Message == "" || env.Data == nil {
			t.Fatalf("bad server frame %s: %v", f, err)
		}
		switch env.Message {
		case wcs.MsgSetRemoteSDP:
			var id string
			_ = json.Unmarshal(env.Data[0], &id)
			if l := lives[id]; l != nil {
				t.Fatalf("second setRemoteSDP for %q", id)
			}
			lives[id] = &life{answered: true}
		case wcs.MsgNotifyStreamStatusEvent:
			var st wcs.Stream
			if err := json.Unmarshal(env.Data[0], &st); err != nil {
				t.Fatalf("stream object %s: %v", env.Data[0], err)
			}
			l := lives[st.MediaSessionID]
			switch st.Status {
			case wcs.StatusPublishing, wcs.StatusPlaying:
				if l == nil || l.connected {
					t.Fatalf("%s without setRemoteSDP, or twice, for %q", st.Status, st.MediaSessionID)
				}
				l.connected = true
			case wcs.StatusFailed, wcs.StatusStopped, wcs.StatusUnpublished:
				delete(lives, st.MediaSessionID)
			default:
				t.Fatalf("unexpected status %q", st.Status)
			}
		}
	}
}

// FuzzSession feeds arbitrary frames, and media events (lines starting with "E:"), into a session's
// dispatch without a socket, then expires its watchdog and shuts it down: no panic, and the SDK's
// invariants hold over everything the session sent.
func FuzzSession(f *testing.F) {
	seeds := []string{
		`{"message":"connection","data":[{"appKey":"defaultApp","sipLogin":"a"}]}` + "\n" +
			`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0"}]}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"m1","kind":"state","state":"connected"}` + "\n" +
			`{"message":"playStream","data":[{"mediaSessionId":"p1","name":"s"}]}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"p1","kind":"state","state":"connected"}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"p1","kind":"format","width":640,"height":480}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"m1","kind":"rate","rate":{"videoRate":1}}` + "\n" +
			`{"message":"sendStreamEvent","data":[{"mediaSessionId":"m1","type":"audioMuted"}]}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"p1","kind":"streamEvent","streamEvent":{"type":"data","payload":{"a":1}}}` + "\n" +
			`{"message":"unPublishStream","data":[{"mediaSessionId":"m1"}]}` + "\n" +
			`E:{"sessionId":"sess","mediaSessionId":"p1","kind":"state","state":"closed","info":"Stopped by publisher stop"}`,
		`{"message":"publishStream","data":[{"mediaSessionId":"m1"}]}` + "\n" + `{"message":"connect"}`,
		`{"message":"connection","data":[null]}` + "\n" + `{"message":"availableStream","data":[{"mediaSessionId":"a","name":"x"}]}` +
			"\n" + `{"message":"sendData","data":[{"operationId":"o"}]}` + "\n" + `{"message":"snapshot","data":[{"mediaSessionId":"x"}]}`,
		`{"message":"connection","data":[{}]}` + "\n" + `{"message":"publishStream","data":[{"mediaSessionId":"m","name":"s","hasVideo":{}}]}` +
			"\n" + `{"message":"stopStream","data":[{"mediaSessionId":"m"}]}` + "\n" + `not json` + "\n" + `E:{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, input []byte, failMedia bool) {
		media := newMemMedia()
		media.fail = failMedia
		out := &recorder{}
		s := newTestSession(media, out)
		for line := range bytes.Lines(input) {
			line = bytes.TrimRight(line, "\n")
			if ev, ok := bytes.CutPrefix(line, []byte("E:")); ok {
				var e control.MediaEvent
				if json.Unmarshal(ev, &e) == nil {
					s.handleEvent(e)
				}
				continue
			}
			s.handleFrame(line)
		}
		s.expirePending(time.Now().Add(time.Hour))
		s.teardown(true)
		if len(s.streams) != 0 {
			t.Fatalf("%d media sessions left after teardown", len(s.streams))
		}
		checkInvariants(t, out.frames)
	})
}

// The actor: frames, events and the end arrive from other goroutines; Run serialises them and
// returns after teardown.
func TestRunSerialisesAndEnds(t *testing.T) {
	media := newMemMedia()
	out := &recorder{}
	s := newTestSession(media, out)
	go s.Run()
	s.Frame([]byte(`{"message":"connection","data":[{}]}`))
	s.Frame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0"}]}`))
	waitFrames(t, out, 3) // getUserData, getVersion, setRemoteSDP
	s.Event(control.MediaEvent{Owner: control.Owner{SessionID: "sess", MediaSessionID: "m1"},
		Kind: control.EventState, State: control.StateConnected})
	waitFrames(t, out, 4) // PUBLISHING
	s.Shutdown()
	s.Disconnect() // the second end is a no-op
	<-s.Done()
	s.Frame([]byte(`{"message":"ping"}`)) // after the end: returns at once
	s.Event(control.MediaEvent{})
	out.mu.Lock()
	defer out.mu.Unlock()
	checkInvariants(t, out.frames)
	last := out.frames[len(out.frames)-1]
	if !bytes.Contains(last, []byte(`"status":"UNPUBLISHED"`)) {
		t.Errorf("last frame %s, want UNPUBLISHED", last)
	}
	if _, err := media.LookupStream(context.Background(), "s"); err == nil {
		t.Error("stream name not released at shutdown")
	}
}

// The watchdog fails a PENDING media session (docs/protocol.md §0 rule 10).
func TestWatchdog(t *testing.T) {
	out := &recorder{}
	m, _ := metrics.New(nil)
	s := New(Config{SessionID: "sess", MediaTimeout: 50 * time.Millisecond}, newMemMedia(), out, m, zerolog.Nop())
	go s.Run()
	defer func() { s.Disconnect(); <-s.Done() }()
	s.Frame([]byte(`{"message":"connection","data":[{}]}`))
	s.Frame([]byte(`{"message":"playStream","data":[{"mediaSessionId":"p1","name":"s"}]}`)) // not found
	s.Frame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s"}]}`))
	waitFor(t, out, []byte(wcs.InfoICETimeout))
}

// waitTimeout bounds the waits for a session's frames; generous for a loaded machine under -race.
const waitTimeout = 20 * time.Second

// waitFrames waits until the session has sent at least n frames.
func waitFrames(t *testing.T, out *recorder, n int) {
	t.Helper()
	testwait.UntilOK(t, waitTimeout, fmt.Sprintf("%d frames", n), func() error {
		out.mu.Lock()
		defer out.mu.Unlock()
		if got := len(out.frames); got < n {
			return fmt.Errorf("%d so far", got)
		}
		return nil
	})
}

// BenchmarkDispatch measures decoding and dispatch of one client message (sendData round trip).
func BenchmarkDispatch(b *testing.B) {
	out := &recorder{}
	s := newTestSession(newMemMedia(), out)
	s.handleFrame([]byte(`{"message":"connection","data":[{"appKey":"defaultApp"}]}`))
	frame := []byte(`{"message":"sendData","data":[{"operationId":"0f1e2d3c-aaaa-11ee-8c90-0242ac120002","payload":{"a":1}}]}`)
	b.ReportAllocs()
	for b.Loop() {
		s.handleFrame(frame)
		out.frames = out.frames[:0]
	}
}
