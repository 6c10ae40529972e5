package rtc

import (
	"errors"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

// chromeOffer is shaped like a Chrome publish offer from the WebSDK (docs/protocol.md §H.3): no
// candidates, BUNDLE, mids 0/1, several H.264 variants, rtx, red, ulpfec.
const chromeOffer = "v=0\r\n" +
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS stream\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 5B:A5:D4:2A:3F:0D:63:1D:8B:2A:5C:8F:E6:16:7C:11:61:7B:D3:62:8C:96:02:2D:47:2B:0E:97:BD:A5:C4:24\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=sendonly\r\n" +
	"a=msid:stream audio0\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=rtcp-fb:111 transport-cc\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\n" +
	"a=fmtp:63 111/111\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:13 CN/8000\r\n" +
	"a=rtpmap:110 telephone-event/48000\r\n" +
	"a=rtpmap:126 telephone-event/8000\r\n" +
	"a=ssrc:1001 cname:abc\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 35 36 125 107 124 119 123 118 114 115 116\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 5B:A5:D4:2A:3F:0D:63:1D:8B:2A:5C:8F:E6:16:7C:11:61:7B:D3:62:8C:96:02:2D:47:2B:0E:97:BD:A5:C4:24\r\n" +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=sendonly\r\n" +
	"a=msid:stream video0\r\n" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 goog-remb\r\n" +
	"a=rtcp-fb:96 transport-cc\r\n" +
	"a=rtcp-fb:96 ccm fir\r\n" +
	"a=rtcp-fb:96 nack\r\n" +
	"a=rtcp-fb:96 nack pli\r\n" +
	"a=rtpmap:97 rtx/90000\r\n" +
	"a=fmtp:97 apt=96\r\n" +
	"a=rtpmap:98 VP9/90000\r\n" +
	"a=fmtp:98 profile-id=0\r\n" +
	"a=rtpmap:99 rtx/90000\r\n" +
	"a=fmtp:99 apt=98\r\n" +
	"a=rtpmap:100 H264/90000\r\n" +
	"a=rtcp-fb:100 nack\r\n" +
	"a=rtcp-fb:100 nack pli\r\n" +
	"a=fmtp:100 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" +
	"a=rtpmap:101 rtx/90000\r\n" +
	"a=fmtp:101 apt=100\r\n" +
	"a=rtpmap:35 H264/90000\r\n" +
	"a=fmtp:35 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n" +
	"a=rtpmap:36 rtx/90000\r\n" +
	"a=fmtp:36 apt=35\r\n" +
	"a=rtpmap:125 H264/90000\r\n" +
	"a=rtcp-fb:125 nack\r\n" +
	"a=rtcp-fb:125 nack pli\r\n" +
	"a=fmtp:125 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=rtpmap:107 rtx/90000\r\n" +
	"a=fmtp:107 apt=125\r\n" +
	"a=rtpmap:124 H264/90000\r\n" +
	"a=fmtp:124 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" +
	"a=rtpmap:119 H264/90000\r\n" +
	"a=fmtp:119 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n" +
	"a=rtpmap:123 H264/90000\r\n" +
	"a=fmtp:123 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640034\r\n" +
	"a=rtpmap:118 AV1/90000\r\n" +
	"a=rtpmap:114 red/90000\r\n" +
	"a=rtpmap:115 rtx/90000\r\n" +
	"a=fmtp:115 apt=114\r\n" +
	"a=rtpmap:116 ulpfec/90000\r\n" +
	"a=ssrc:2001 cname:abc\r\n"

func TestParseOfferChrome(t *testing.T) {
	o, err := ParseOffer(chromeOffer)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Media) != 2 {
		t.Fatalf("%d media, want 2", len(o.Media))
	}
	a, v := o.Kind(webrtc.RTPCodecTypeAudio), o.Kind(webrtc.RTPCodecTypeVideo)
	if a == nil || v == nil || a.Mid != "0" || v.Mid != "1" || a.Direction != "sendonly" {
		t.Fatalf("audio %+v video %+v", a, v)
	}
	if len(v.Codecs) != 17 || v.Codecs[0].Name != "VP8" || v.Codecs[0].ClockRate != 90000 {
		t.Fatalf("video codecs %+v", v.Codecs)
	}
	if c := a.Codecs[0]; c.Name != "opus" || c.ClockRate != 48000 || c.Channels != 2 {
		t.Fatalf("opus %+v", c)
	}
	for _, c := range PublishCodecs() {
		m := o.Kind(c.Kind)
		if !m.Supports(c.Params.RTPCodecCapability) {
			t.Errorf("offer should support %s %s", c.Params.MimeType, c.Params.SDPFmtpLine)
		}
	}
	high := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "packetization-mode=1;profile-level-id=64001f"}
	if !v.Supports(high) {
		t.Error("profile 6400 level 1f should match 640034")
	}
	high.SDPFmtpLine = "packetization-mode=0;profile-level-id=64001f"
	if v.Supports(high) {
		t.Error("high profile mode 0 is not offered")
	}
}

func TestParseOfferRejects(t *testing.T) {
	noFP := strings.ReplaceAll(chromeOffer, "a=fingerprint:", "a=x-fingerprint:")
	noICE := strings.ReplaceAll(chromeOffer, "a=ice-ufrag:", "a=x-ufrag:")
	dupMid := strings.Replace(chromeOffer, "a=mid:1", "a=mid:0", 1)
	manyMedia := chromeOffer
	for i := 0; i < MaxMediaSections; i++ {
		manyMedia += "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:x" + string(rune('a'+i)) + "\r\n"
	}
	tests := []struct{ name, sdp, want string }{
		{"empty", "", "empty"},
		{"too big", chromeOffer + strings.Repeat("a=x-pad:0123456789\r\n", 4000), "limit"},
		{"garbage", "hello", ""},
		{"not utf8", "v=0\r\n\xff", "UTF-8"},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "media sections"},
		{"no fingerprint", noFP, "fingerprint"},
		{"no ice", noICE, "ICE credentials"},
		{"duplicate mid", dupMid, "duplicate mid"},
		{"too many media", manyMedia, "media sections"},
		{"bad payload type", strings.Replace(chromeOffer, "SAVPF 111 63", "SAVPF 300 63", 1), "payload type"},
		{"unknown media", strings.Replace(chromeOffer, "m=audio 9", "m=text 9", 1), "media type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOffer(tc.sdp)
			if err == nil || !errors.Is(err, ErrBadOffer) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBadOffer containing %q", err, tc.want)
			}
		})
	}
}

func TestWCSName(t *testing.T) {
	for in, want := range map[string]string{
		"video/VP8": "VP8", "video/h264": "H264", "audio/opus": "opus", "audio/PCMA": "PCMA",
		"audio/pcmu": "PCMU", "x": "x",
	} {
		if got := WCSName(in); got != want {
			t.Errorf("WCSName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzOffer(f *testing.F) {
	f.Add(chromeOffer)
	f.Add("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
	f.Add("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8\r\na=fmtp:96\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOffer(s)
		if err != nil {
			return
		}
		if len(o.Media) == 0 || len(o.Media) > MaxMediaSections {
			t.Fatalf("accepted %d media sections", len(o.Media))
		}
		for _, m := range o.Media {
			m.Supports(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000})
		}
	})
}
