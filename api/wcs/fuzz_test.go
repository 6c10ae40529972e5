package wcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary frames to the decoder and the typed argument views: never a panic, a
// decoded frame always has a name, and what decodes re-encodes and decodes to the same name and
// argument count.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"message":"pong","data":[null]}`,
		`{"message":"pong"}`,
		`{"message":"connection","data":[{"appKey":"defaultApp","mediaProviders":["WebRTC"],"sipPort":"5060","custom":{"a":1}}]}`,
		`{"message":"publishStream","data":[{"mediaSessionId":"m","name":"s","hasVideo":"true","width":"640","sdp":"v=0\r\n"}]}`,
		`{"message":"sendData","data":[{"operationId":"o","payload":[1,{"x":null}]}]}`,
		`{"message":"sendDtmf","data":[{"dtmf":5}]}`,
		`{"message":"x","data":5}`,
		`{"message":"x","data":` + strings.Repeat("[", 40) + `}`,
		`{"message":"\u0000","data":["\ud800"]}`,
		`[]`, `{}`, ``, `{"message":"x","data":[1,]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, err := Decode(frame, 4096)
		if err != nil {
			if len(frame) > 4096 && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversized frame: %v", err)
			}
			return
		}
		if env.Message == "" {
			t.Fatal("decoded frame without a message name")
		}
		args := make([]any, len(env.Data))
		for i := range env.Data {
			var c Connection
			var s StreamRequest
			var d SendDataRequest
			var e SendStreamEventRequest
			var raw map[string]json.RawMessage
			_ = env.Arg(i, &c)
			_ = env.Arg(i, &s)
			_ = env.Arg(i, &d)
			_ = env.Arg(i, &e)
			if env.Arg(i, &raw) == nil && raw != nil {
				if _, err := json.Marshal(UserData(raw, "tok")); err != nil {
					t.Fatalf("UserData of a decoded object does not encode: %v", err)
				}
			}
			args[i] = env.Data[i]
		}
		out, err := Encode(env.Message, args...)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(out, len(out)+1)
		if err != nil {
			// Re-encoding can only deepen nothing; it must decode.
			if !errors.Is(err, ErrTooDeep) || bytes.Count(out, []byte("[")) <= MaxDepth {
				t.Fatalf("re-decode %s: %v", out, err)
			}
			return
		}
		if again.Message != env.Message || len(again.Data) != len(env.Data) {
			t.Fatalf("round trip changed %q/%d into %q/%d", env.Message, len(env.Data), again.Message, len(again.Data))
		}
	})
}
