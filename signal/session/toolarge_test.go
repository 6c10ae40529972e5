package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/wsconn"
)

// tooLarge is a frame of 300,000 bytes whose first bytes are head (the transport keeps at most
// wcs.HeadBytes of them).
func tooLarge(head string) wsconn.TooLarge {
	return wsconn.TooLarge{Head: []byte(head), Bytes: 300000, Limit: 262144}
}

const tooLargeInfo = "Frame too large: 300000 bytes, limit 262144"

// sent decodes the frames the session sent since from.
func sent(t *testing.T, out *recorder, from int) []struct {
	Message string
	Data    []json.RawMessage
} {
	t.Helper()
	var fs []struct {
		Message string
		Data    []json.RawMessage
	}
	for _, b := range out.frames[from:] {
		var f struct {
			Message string
			Data    []json.RawMessage
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("bad frame %s", b)
		}
		fs = append(fs, f)
	}
	return fs
}

// A frame too large is answered for the stream its head names: what the client waits for settles
// (docs/protocol.md §0 rule 10, §C.6, §C.10, §C.9); anything else gets the generic fail.
func TestTooLargeAnswers(t *testing.T) {
	const sdp = `","published":true,"sdp":"v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n` // cut here
	cases := []struct {
		name string
		head string
		want string // message of the one answer
		// what the answer must contain
		check func(t *testing.T, data json.RawMessage)
	}{
		{"publishStream", `{"message":"publishStream","data":[{"mediaSessionId":"new-1","name":"cam` + sdp,
			wcs.MsgNotifyStreamStatusEvent, streamIs("new-1", "cam", true, wcs.StatusFailed, tooLargeInfo)},
		{"playStream", `{"message":"playStream","data":[{"mediaSessionId":"new-2","name":"cam` + sdp,
			wcs.MsgNotifyStreamStatusEvent, streamIs("new-2", "cam", false, wcs.StatusFailed, tooLargeInfo)},
		{"publishStream with a name too long", `{"message":"publishStream","data":[{"mediaSessionId":"new-3","name":"` +
			strings.Repeat("n", wcs.MaxStreamNameBytes+1) + sdp,
			wcs.MsgNotifyStreamStatusEvent, streamIs("new-3", "", true, wcs.StatusFailed, tooLargeInfo)},
		{"publishStream cut in the name", `{"message":"publishStream","data":[{"mediaSessionId":"new-4","name":"ca`,
			wcs.MsgNotifyStreamStatusEvent, streamIs("new-4", "", true, wcs.StatusFailed, tooLargeInfo)},
		{"unPublishStream of a live stream", `{"message":"unPublishStream","data":[{"mediaSessionId":"live","x":"`,
			wcs.MsgNotifyStreamStatusEvent, streamIs("live", "s", true, wcs.StatusFailed, tooLargeInfo)},
		{"availableStream", `{"message":"availableStream","data":[{"mediaSessionId":"av","name":"`,
			wcs.MsgAvailableStream, func(t *testing.T, d json.RawMessage) {
				var av wcs.AvailableStream
				if json.Unmarshal(d, &av) != nil || av != (wcs.AvailableStream{ID: "av", Status: "false", Info: tooLargeInfo}) {
					t.Errorf("availableStream %s", d)
				}
			}},
		{"snapshot", `{"message":"snapshot","data":[{"name":"x","mediaSessionId":"sn","y":"`,
			wcs.MsgNotifyStreamEvent, func(t *testing.T, d json.RawMessage) {
				var ev wcs.StreamEvent
				if json.Unmarshal(d, &ev) != nil || ev.MediaSessionID != "sn" || ev.Type != "snapshotFailed" ||
					string(ev.Payload) != `{"info":"`+tooLargeInfo+`"}` {
					t.Errorf("snapshot answer %s", d)
				}
			}},
		{"publishStream reusing a live id", `{"message":"publishStream","data":[{"mediaSessionId":"live","name":"t` + sdp,
			wcs.MsgFail, genericFail},
		{"stopStream of an unknown id", `{"message":"stopStream","data":[{"mediaSessionId":"nope","x":"`, wcs.MsgFail, genericFail},
		{"sendStreamEvent", `{"message":"sendStreamEvent","data":[{"mediaSessionId":"live","type":"data","payload":"`,
			wcs.MsgFail, genericFail},
		{"publishStream without an id", `{"message":"publishStream","data":[{"name":"cam` + sdp, wcs.MsgFail, genericFail},
		{"publishStream cut in the id", `{"message":"publishStream","data":[{"mediaSessionId":"new-`, wcs.MsgFail, genericFail},
		{"pushLogs", `{"message":"pushLogs","data":[{"logs":"`, wcs.MsgFail, genericFail},
		{"not json", strings.Repeat("x", 100), wcs.MsgFail, genericFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := &recorder{}
			s := newTestSession(newMemMedia(), out)
			s.handleFrame([]byte(`{"message":"connection","data":[{}]}`))
			s.handleFrame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"live","name":"s","sdp":"v=0"}]}`))
			before := len(out.frames) // getUserData, getVersion, setRemoteSDP
			s.handleTooLarge(tooLarge(tc.head))
			fs := sent(t, out, before)
			if len(fs) != 1 || fs[0].Message != tc.want || len(fs[0].Data) != 1 {
				t.Fatalf("answers %s, want one %s", out.frames[before:], tc.want)
			}
			tc.check(t, fs[0].Data[0])
			// The session goes on: a stream can still be published.
			s.handleFrame([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"after","name":"a","sdp":"v=0"}]}`))
			if fs := sent(t, out, before+1); len(fs) != 1 || fs[0].Message != wcs.MsgSetRemoteSDP {
				t.Errorf("publish after the frame too large: %s", out.frames[before+1:])
			}
			checkInvariants(t, out.frames)
			s.teardown(false)
		})
	}
}

func streamIs(id, name string, published bool, status, info string) func(*testing.T, json.RawMessage) {
	return func(t *testing.T, d json.RawMessage) {
		t.Helper()
		var st wcs.Stream
		if err := json.Unmarshal(d, &st); err != nil || st.MediaSessionID != id || st.Name != name ||
			st.Published != published || st.Status != status || st.Info != info || st.MediaProvider != "WebRTC" {
			t.Errorf("stream %s, want %s %q %s %q", d, id, name, status, info)
		}
	}
}

func genericFail(t *testing.T, d json.RawMessage) {
	t.Helper()
	var f wcs.Fail
	if err := json.Unmarshal(d, &f); err != nil || f != (wcs.Fail{Status: wcs.StatusFailed, Info: tooLargeInfo}) {
		t.Errorf("fail %s, want the generic one", d)
	}
}

// Past the hard limit the transport closes the socket as soon as FrameTooLarge returns: by then the
// answer is queued, after the answers to the frames before it.
func TestTooLargeClosingWaitsForTheAnswer(t *testing.T) {
	out := &recorder{}
	s := newTestSession(newMemMedia(), out)
	go s.Run()
	defer func() { s.Disconnect(); <-s.Done() }()
	s.Frame([]byte(`{"message":"connection","data":[{}]}`))
	f := tooLarge(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"`)
	f.Bytes, f.Closing = 4*262144+1, true
	s.FrameTooLarge(f)
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.frames) != 3 || !bytes.Contains(out.frames[2], []byte(`"info":"Frame too large: over 1048576 bytes, limit 262144"`)) ||
		!bytes.Contains(out.frames[2], []byte(`"mediaSessionId":"m1"`)) {
		t.Fatalf("frames when FrameTooLarge returned: %s", out.frames)
	}
}

// After the session has ended FrameTooLarge returns at once.
func TestTooLargeAfterTheEnd(t *testing.T) {
	s := newTestSession(newMemMedia(), &recorder{})
	go s.Run()
	s.Disconnect()
	<-s.Done()
	done := make(chan struct{})
	go func() {
		f := tooLarge(`{"message":"publishStream"`)
		f.Closing = true
		s.FrameTooLarge(f)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("FrameTooLarge blocked on an ended session")
	}
}

// FuzzTooLarge mixes whole frames and heads of frames too large (lines starting with "T:") in one
// session: no panic, the SDK's invariants hold over everything sent, and teardown leaves nothing.
func FuzzTooLarge(f *testing.F) {
	for _, s := range []string{
		`{"message":"connection","data":[{}]}` + "\n" +
			`T:{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0` + "\n" +
			`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s","sdp":"v=0"}]}` + "\n" +
			`T:{"message":"unPublishStream","data":[{"mediaSessionId":"m1","x":"` + "\n" +
			`T:{"message":"playStream","data":[{"mediaSessionId":"p1","name":"s"}]}` + "\n" +
			`T:{"message":"availableStream","data":[{"mediaSessionId":"a"` + "\n" +
			`T:{"message":"snapshot","data":{"mediaSessionId":"n"}}`,
		`T:{"message":"stopStream","data":[{"mediaSessionId":12`,
		`T:` + strings.Repeat("[", 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		out := &recorder{}
		s := newTestSession(newMemMedia(), out)
		for line := range bytes.Lines(input) {
			line = bytes.TrimRight(line, "\n")
			if head, ok := bytes.CutPrefix(line, []byte("T:")); ok {
				s.handleTooLarge(tooLarge(string(head)))
				continue
			}
			s.handleFrame(line)
		}
		s.teardown(true)
		if len(s.streams) != 0 {
			t.Fatalf("%d media sessions left after teardown", len(s.streams))
		}
		checkInvariants(t, out.frames)
	})
}
