package sipleg

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A SIP phone's offer: session-level c=, static PCMU without rtpmap, telephone-event, sendonly.
const phoneOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\na=sendonly\r\nm=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"

func TestParse(t *testing.T) {
	m, err := Parse(phoneOffer)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Addr.Equal(net.ParseIP("192.0.2.10")) || m.Port != 40000 || m.Direction != "sendonly" {
		t.Errorf("media %+v", m)
	}
	if len(m.Codecs) != 3 || !m.Codecs[0].Is("PCMU", 8000) || !m.Codecs[1].Is("PCMA", 8000) ||
		!m.Codecs[2].Is("telephone-event", 8000) || m.Codecs[2].Fmtp != "0-15" {
		t.Errorf("codecs %+v", m.Codecs)
	}
}

func TestBuildParsesBack(t *testing.T) {
	in := []Codec{{PayloadType: 111, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10"},
		{PayloadType: 0, Name: "PCMU", ClockRate: 8000}}
	sdp := Build(net.IPv4(127, 0, 0, 1), 30000, in, "recvonly", 5, 2)
	m, err := Parse(sdp)
	if err != nil {
		t.Fatalf("%v\n%s", err, sdp)
	}
	if m.Port != 30000 || m.Direction != "recvonly" || len(m.Codecs) != 2 || m.Codecs[0].String() != "opus/48000/2" ||
		m.Codecs[0].Fmtp != "minptime=10" {
		t.Errorf("parsed back %+v from\n%s", m, sdp)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, sdp := range map[string]string{
		"empty":      "",
		"garbage":    "hello",
		"no audio":   "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n",
		"no address": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"host name":  "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 phone.example\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
		"bad pt":     "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP x\r\n",
		"too large":  phoneOffer + strings.Repeat("a=x\r\n", MaxSDPSize/5),
	} {
		if _, err := Parse(sdp); !errors.Is(err, ErrBadSDP) {
			t.Errorf("%s: %v, want ErrBadSDP", name, err)
		}
	}
}

// FuzzParse: no SDP a SIP peer sends panics the parser, and what it accepts has a usable port
// and an IP.
func FuzzParse(f *testing.F) {
	f.Add(phoneOffer)
	f.Add(Build(net.IPv4(10, 0, 0, 1), 2, []Codec{{Name: "PCMU", ClockRate: 8000}}, "sendrecv", 1, 1))
	f.Add("v=0\r\nc=IN IP6 ::1\r\nm=audio 0 RTP/AVP 9\r\n")
	f.Fuzz(func(t *testing.T, sdp string) {
		m, err := Parse(sdp)
		if err != nil {
			return
		}
		if m.Addr == nil || m.Port < 0 || m.Port > 65535 || len(m.Codecs) > 64 {
			t.Fatalf("accepted %+v", m)
		}
	})
}
