package wcs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// sdkPublish is a publishStream frame in the WebSDK's field order (flashphoner-core.js publish):
// mediaSessionId and name come before the SDP.
func sdkPublish(id, name any, sdp string) []byte {
	type stream struct {
		MediaSessionID any    `json:"mediaSessionId"`
		Name           any    `json:"name"`
		Published      bool   `json:"published"`
		HasVideo       bool   `json:"hasVideo"`
		HasAudio       bool   `json:"hasAudio"`
		Status         string `json:"status"`
		Record         bool   `json:"record"`
		MediaProvider  string `json:"mediaProvider"`
		SDP            string `json:"sdp"`
	}
	b, err := json.Marshal(struct {
		Message string   `json:"message"`
		Data    []stream `json:"data"`
	}{MsgPublishStream, []stream{{id, name, true, true, true, StatusPending, false, "WebRTC", sdp}}})
	if err != nil {
		panic(err)
	}
	return b
}

// A frame cut anywhere yields what was read to its end, and nothing that was not.
func TestPeekHead(t *testing.T) {
	sdp := strings.Repeat("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", 10000) // ~320 KB: a 1,000-line offer is of this size
	full := sdkPublish("0f1e2d3c-aaaa-11ee-8c90-0242ac120002", "cam 1", sdp)
	cases := []struct {
		name      string
		in        string
		message   string
		id, sname string
	}{
		{"sdk publish cut in the sdp", string(full[:2000]), MsgPublishStream, "0f1e2d3c-aaaa-11ee-8c90-0242ac120002", "cam 1"},
		{"sdk publish, whole head", string(full), MsgPublishStream, "0f1e2d3c-aaaa-11ee-8c90-0242ac120002", "cam 1"},
		{"cut in the name", `{"message":"playStream","data":[{"mediaSessionId":"p1","name":"ca`, MsgPlayStream, "p1", ""},
		{"cut after the name's key", `{"message":"playStream","data":[{"mediaSessionId":"p1","name"`, MsgPlayStream, "p1", ""},
		{"cut in the id", `{"message":"publishStream","data":[{"mediaSessionId":"0f1e`, MsgPublishStream, "", ""},
		{"cut in the message", `{"message":"publishSt`, "", "", ""},
		{"cut in a number id", `{"message":"publishStream","data":[{"mediaSessionId":12`, MsgPublishStream, "", ""},
		{"number id", `{"message":"publishStream","data":[{"mediaSessionId":123,"sdp":"`, MsgPublishStream, "123", ""},
		{"boolean and null", `{"message":"publishStream","data":[{"mediaSessionId":true,"name":null,"sdp":"`, MsgPublishStream, "true", ""},
		{"escapes", `{"message":"publish\u0053tream","data":[{"mediaSessionId":"a\"b","name":"\u00e9\ud83d\ude00","sdp":"`,
			MsgPublishStream, `a"b`, "é😀"},
		{"keys in another case", `{"MESSAGE":"stopStream","Data":[{"MediaSessionID":"s1","NAME":"n","x":[`, MsgStopStream, "s1", "n"},
		{"last duplicate wins", `{"message":"a","message":"publishStream","data":[{"name":"x","name":"y","mediaSessionId":"m","sdp":"`,
			MsgPublishStream, "m", "y"},
		{"fields before the id are skipped", `{"message":"publishStream","data":[{"custom":{"a":[1,{"b":"}"}]},"constraints":[[[]]],"mediaSessionId":"m","name":"n","sdp":"`,
			MsgPublishStream, "m", "n"},
		{"data before message", `{"data":[{"mediaSessionId":"m","name":"n"}],"message":"playStream","x":"`, MsgPlayStream, "m", "n"},
		{"a later data replaces", `{"message":"playStream","data":[{"mediaSessionId":"m","name":"n"}],"data":[{"mediaSessionId":"k","sdp":"`,
			MsgPlayStream, "k", ""},
		{"legacy bare object", `{"message":"publishStream","data":{"mediaSessionId":"m","name":"n","sdp":"`, MsgPublishStream, "m", "n"},
		{"second element is not read", `{"message":"publishStream","data":[null,{"mediaSessionId":"m"}],"x":"`, MsgPublishStream, "", ""},
		{"data not an array", `{"message":"publishStream","data":"x","y":"`, MsgPublishStream, "", ""},
		{"message not a string", `{"message":5,"data":[{"mediaSessionId":"m","sdp":"`, "", "m", ""},
		{"object id", `{"message":"publishStream","data":[{"mediaSessionId":{"a":1},"name":"n","sdp":"`, MsgPublishStream, "", "n"},
		{"not an object", `["message","publishStream"]`, "", "", ""},
		{"garbage", "\x00\xff{", "", "", ""},
		{"empty", ``, "", "", ""},
		{"deep", `{"message":"publishStream","data":[{"x":` + strings.Repeat("[", 5000), MsgPublishStream, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := PeekHead([]byte(tc.in))
			if h != (Head{tc.message, tc.id, tc.sname}) {
				t.Errorf("PeekHead = %+v, want {%q %q %q}", h, tc.message, tc.id, tc.sname)
			}
		})
	}
	// Only the first HeadBytes are read.
	late := []byte(`{"message":"publishStream","data":[{"x":"` + strings.Repeat("a", HeadBytes) + `","mediaSessionId":"m"}]}`)
	if h := PeekHead(late); h != (Head{Message: MsgPublishStream}) {
		t.Errorf("a field after HeadBytes was read: %+v", h)
	}
	// A name at the limit, every byte escaped, still fits.
	long := sdkPublish("0f1e2d3c-aaaa-11ee-8c90-0242ac120002", strings.Repeat("\u2028", MaxStreamNameBytes/3), sdp)
	if h := PeekHead(long); h.Name != strings.Repeat("\u2028", MaxStreamNameBytes/3) {
		t.Errorf("escaped name of %d bytes not read", MaxStreamNameBytes)
	}
}

// FuzzPeekHead feeds arbitrary bytes, and SDK-shaped frames cut at an arbitrary point: never a
// panic, nothing past HeadBytes read, the same answer as Decode on a whole frame, and on a cut frame
// only values read to their end.
func FuzzPeekHead(f *testing.F) {
	for _, s := range []string{
		`{"message":"publishStream","data":[{"mediaSessionId":"m","name":"s","sdp":"v=0\r\n"}]}`,
		`{"message":"playStream","data":{"mediaSessionId":12,"name":null}}`,
		`{"MESSAGE":"x","data":[{"Name":"a","name":"b"}],"data":[]}`,
		`{"message":"x","data":[[{"mediaSessionId":"m"}],{}]}`,
		`{"message":"x","data":` + strings.Repeat("[", 40),
		`{"message":"\ud800","data":[{"mediaSessionId":"\u017f"}]}`,
		``, `{`, `{"message"`, `[]`, `{"data":5,"message":"y"}`,
	} {
		f.Add([]byte(s), "0f1e2d3c-aaaa-11ee", "name", uint16(0), false)
	}
	f.Add([]byte(nil), "12345", "\u2028\"", uint16(40), true)
	f.Fuzz(func(t *testing.T, frame []byte, id, name string, cut uint16, numericID bool) {
		// Arbitrary bytes.
		h := PeekHead(frame)
		if len(frame) > HeadBytes && h != PeekHead(frame[:HeadBytes]) {
			t.Fatalf("read past HeadBytes")
		}
		if env, err := Decode(frame, HeadBytes); err == nil {
			var req StreamRequest
			if env.Arg(0, &req) == nil {
				want := Head{env.Message, string(req.MediaSessionID), string(req.Name)}
				if h != want {
					t.Fatalf("PeekHead %+v, Decode %+v of %s", h, want, frame)
				}
			} else if h.Message != env.Message {
				t.Fatalf("PeekHead message %q, Decode %q of %s", h.Message, env.Message, frame)
			}
		}

		// A frame as the SDK sends it, cut anywhere.
		var idv any = id
		if n, err := strconv.ParseUint(id, 10, 64); numericID && err == nil {
			idv = n
		}
		whole := sdkPublish(idv, name, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")
		// Compare with what Decode reads: json.Marshal replaced invalid UTF-8 in the strings.
		var back StreamRequest
		env, err := Decode(whole, len(whole))
		if err != nil || env.Arg(0, &back) != nil {
			t.Fatalf("SDK frame does not decode: %s", whole)
		}
		wantID, wantName := string(back.MediaSessionID), string(back.Name)
		k := int(cut) % (len(whole) + 1)
		got := PeekHead(whole[:k])
		if got.Message != "" && got.Message != MsgPublishStream ||
			got.MediaSessionID != "" && got.MediaSessionID != wantID ||
			got.Name != "" && got.Name != wantName {
			t.Fatalf("cut at %d of %s: %+v", k, whole, got)
		}
		// Past the name (the key that follows it cannot occur inside an escaped string), both are read.
		if next := bytes.Index(whole, []byte(`"published":`)); k > next && next < HeadBytes &&
			(got.MediaSessionID != wantID || got.Name != wantName || got.Message != MsgPublishStream) {
			t.Fatalf("cut at %d after the name of %s: %+v", k, whole, got)
		}
	})
}
