package wcs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// docs/protocol.md §A.1, §A.3: the server accepts a missing data, data:[null], data:[obj], and is strict
// about size, nesting and shape.
func TestDecode(t *testing.T) {
	deep := `{"message":"x","data":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	deepInString := `{"message":"x","data":["` + strings.Repeat("[{", 100) + `"]}`
	cases := []struct {
		name    string
		in      string
		max     int
		message string
		args    int
		err     error // sentinel, or nil; errAny = any error
	}{
		{"no data", `{"message":"pong"}`, 0, "pong", 0, nil},
		{"data null", `{"message":"pong","data":null}`, 0, "pong", 0, nil},
		{"data [null]", `{"message":"pong","data":[null]}`, 0, "pong", 1, nil},
		{"data [obj]", `{"message":"connection","data":[{"appKey":"defaultApp"}]}`, 0, "connection", 1, nil},
		{"two args", `{"message":"setRemoteSDP","data":["id","sdp",true]}`, 0, "setRemoteSDP", 3, nil},
		{"legacy bare object", `{"message":"connect","data":{"appKey":"a"}}`, 0, "connect", 1, nil},
		{"legacy bare number", `{"message":"x","data":5}`, 0, "x", 1, nil},
		{"whitespace", " \n\t{\"message\":\"ping\",\"data\":[]} \n", 0, "ping", 0, nil},
		{"extra fields", `{"message":"ping","data":[],"id":7}`, 0, "ping", 0, nil},
		{"brackets in strings", deepInString, 0, "x", 1, nil},
		{"at depth limit", `{"message":"x","data":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, 0, "x", 1, nil},
		{"too deep", deep, 0, "", 0, ErrTooDeep},
		{"too large", `{"message":"pushLogs","data":["` + strings.Repeat("x", 100) + `"]}`, 64, "", 0, ErrTooLarge},
		{"empty", ``, 0, "", 0, ErrNotObject},
		{"array", `[{"message":"x"}]`, 0, "", 0, ErrNotObject},
		{"string", `"message"`, 0, "", 0, ErrNotObject},
		{"no message", `{"data":[]}`, 0, "", 0, ErrNoMessage},
		{"empty message", `{"message":"","data":[]}`, 0, "", 0, ErrNoMessage},
		{"null message", `{"message":null}`, 0, "", 0, ErrNoMessage},
		{"number message", `{"message":5}`, 0, "", 0, errAny},
		{"truncated", `{"message":"x","data":[`, 0, "", 0, errAny},
		{"trailing garbage", `{"message":"x"} {}`, 0, "", 0, errAny},
		{"bad data array", `{"message":"x","data":[1,]}`, 0, "", 0, errAny},
		{"invalid utf8 escape", `{"message":"\ud800","data":[]}`, 0, "\ufffd", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Decode([]byte(tc.in), tc.max)
			switch {
			case tc.err == errAny:
				if err == nil {
					t.Fatalf("no error, got %+v", env)
				}
				return
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if env.Message != tc.message || len(env.Data) != tc.args {
				t.Errorf("got %q with %d args, want %q with %d", env.Message, len(env.Data), tc.message, tc.args)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestDecodeDefaultLimit(t *testing.T) {
	big := `{"message":"pushLogs","data":["` + strings.Repeat("x", MaxFrameBytes) + `"]}`
	if _, err := Decode([]byte(big), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge with the default limit", err)
	}
	if _, err := Decode([]byte(big), 2*MaxFrameBytes); err != nil {
		t.Fatalf("a larger explicit limit: %v", err)
	}
}

func TestArg(t *testing.T) {
	env, err := Decode([]byte(`{"message":"publishStream","data":[{"mediaSessionId":"m1","name":"s",`+
		`"hasVideo":"true","hasAudio":1,"record":null,"width":"640","bitrate":1.9e3},null,5]}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	var req StreamRequest
	if err := env.Arg(0, &req); err != nil {
		t.Fatal(err)
	}
	if req.MediaSessionID != "m1" || req.Name != "s" || !req.HasVideo || !req.HasAudio || req.Record ||
		req.Width != 640 || req.Bitrate != 1900 {
		t.Errorf("lenient StreamRequest %+v", req)
	}
	if err := env.Arg(1, &req); !errors.Is(err, ErrNoArgument) {
		t.Errorf("null argument: %v", err)
	}
	if err := env.Arg(3, &req); !errors.Is(err, ErrNoArgument) {
		t.Errorf("missing argument: %v", err)
	}
	if err := env.Arg(2, &req); err == nil || errors.Is(err, ErrNoArgument) {
		t.Errorf("number into struct: %v", err)
	}
}

func TestLenientTypes(t *testing.T) {
	bools := map[string]bool{`true`: true, `"true"`: true, `"TRUE"`: true, `1`: true, `"yes"`: true, `2.5`: true,
		`false`: false, `"false"`: false, `0`: false, `null`: false, `""`: false, `"off"`: false}
	for in, want := range bools {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("Bool(%s) = %v, %v; want %v", in, b, err, want)
		}
	}
	for _, in := range []string{`"maybe"`, `{}`, `[]`} {
		var b Bool
		if err := json.Unmarshal([]byte(in), &b); err == nil {
			t.Errorf("Bool(%s) accepted", in)
		}
	}
	ints := map[string]Int{`5060`: 5060, `"5060"`: 5060, `" 7 "`: 7, `null`: 0, `""`: 0, `1e3`: 1000, `-3`: -3}
	for in, want := range ints {
		var n Int
		if err := json.Unmarshal([]byte(in), &n); err != nil || n != want {
			t.Errorf("Int(%s) = %v, %v; want %v", in, n, err, want)
		}
	}
	for _, in := range []string{`"abc"`, `{}`, `true`} {
		var n Int
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("Int(%s) accepted", in)
		}
	}
	strs := map[string]String{`"a\"b"`: `a"b`, `5`: "5", `true`: "true", `null`: "", `1.50`: "1.50"}
	for in, want := range strs {
		var s String
		if err := json.Unmarshal([]byte(in), &s); err != nil || s != want {
			t.Errorf("String(%s) = %q, %v; want %q", in, s, err, want)
		}
	}
	for _, in := range []string{`{}`, `[1]`} {
		var s String
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("String(%s) accepted", in)
		}
	}
}

// docs/protocol.md §0 rule 1: data is always an array, [] when empty.
func TestEncode(t *testing.T) {
	b, err := Encode(MsgPing)
	if err != nil || string(b) != `{"message":"ping","data":[]}` {
		t.Errorf("Encode(ping) = %s, %v", b, err)
	}
	b, err = Encode(MsgSetRemoteSDP, "m1", "v=0\r\n", true)
	if err != nil || string(b) != `{"message":"setRemoteSDP","data":["m1","v=0\r\n",true]}` {
		t.Errorf("Encode(setRemoteSDP) = %s, %v", b, err)
	}
	b, err = Encode(MsgAvailableStream, AvailableStream{ID: "a", Status: "false", Info: InfoStreamNotFound})
	if err != nil || string(b) != `{"message":"availableStream","data":[{"id":"a","status":"false","info":"Stream not found"}]}` {
		t.Errorf("Encode(availableStream) = %s, %v", b, err)
	}
	if _, err := Encode("x", func() {}); err == nil {
		t.Error("unencodable argument accepted")
	}
}

// docs/protocol.md §C.1: every connection field is echoed; the server's fields win.
func TestUserData(t *testing.T) {
	raw := map[string]json.RawMessage{
		"appKey": json.RawMessage(`"defaultApp"`), "sipLogin": json.RawMessage(`"alice"`),
		"authToken": json.RawMessage(`"old"`), "custom": json.RawMessage(`{"a":[1]}`),
		"status": json.RawMessage(`"PENDING"`),
	}
	ud := UserData(raw, "tok")
	b, err := json.Marshal(ud)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["sipLogin"] != "alice" || got["appKey"] != "defaultApp" || got["authToken"] != "tok" ||
		got["status"] != SessionEstablished || got["keepAlive"] != false || got["useWsTunnel"] != false {
		t.Errorf("UserData %s", b)
	}
	if mp, _ := got["mediaProviders"].([]any); len(mp) != 1 || mp[0] != "WebRTC" {
		t.Errorf("default mediaProviders %v", got["mediaProviders"])
	}
	raw["keepAlive"] = json.RawMessage(`true`)
	if ud := UserData(raw, "tok"); string(ud["keepAlive"].(json.RawMessage)) != "true" {
		t.Errorf("keepAlive not echoed: %v", ud["keepAlive"])
	}
}
