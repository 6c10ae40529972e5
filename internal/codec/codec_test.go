package codec

import (
	"encoding/hex"
	"testing"
)

// SPS NAL units written by libx264 (ffmpeg testsrc), one per SPS syntax path.
var spsFixtures = []struct {
	name string
	hex  string
	w, h int
}{
	{"baseline 320x180 cropped", "6742c00dd901419f9f0110000003001000000303c0f142a480", 320, 180},
	{"high 1280x720", "6764001facd9405005bb0110000003001000000303c0f1831960", 1280, 720},
	{"high422 352x288", "677a000dbcd9416096c044000003000400000300f03c50a658", 352, 288},
	{"high444 640x360 cropped", "67f4001e919b281405ff138088000003000800000301e078b16cb0", 640, 360},
	{"high444 720x576 interlaced", "67f4001e919b2816849b011000000300100000030321f1429960", 720, 576},
	{"main 1920x1080 interlaced cropped", "674d4028f403c0227ef011000003000100000300321f162ea0", 1920, 1080},
	{"high 200x100 scaling matrix", "6764000bacd9434fe59f011000000300100000030320f1429960", 200, 100},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSPS(t *testing.T) {
	for _, f := range spsFixtures {
		t.Run(f.name, func(t *testing.T) {
			w, h, err := ParseSPS(unhex(t, f.hex))
			if err != nil || w != f.w || h != f.h {
				t.Fatalf("got %dx%d err=%v, want %dx%d", w, h, err, f.w, f.h)
			}
		})
	}
}

func TestParseSPSRejectsTruncated(t *testing.T) {
	sps := unhex(t, spsFixtures[1].hex)
	for n := 0; n < 10; n++ {
		if _, _, err := ParseSPS(sps[:n]); err == nil {
			t.Errorf("ParseSPS(%d bytes) accepted a truncated SPS", n)
		}
	}
	if _, _, err := ParseSPS([]byte{0x68, 0xce, 0x38, 0x80}); err == nil {
		t.Error("ParseSPS accepted a PPS")
	}
}

func TestH264Keyframe(t *testing.T) {
	sps := unhex(t, spsFixtures[1].hex) // 1280x720
	pps := []byte{0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0}
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x33}
	nonIDR := []byte{0x41, 0x9a, 0x21, 0x6c}
	stap := func(nals ...[]byte) []byte {
		p := []byte{0x78} // F=0 NRI=3 type 24
		for _, n := range nals {
			p = append(p, byte(len(n)>>8), byte(len(n)))
			p = append(p, n...)
		}
		return p
	}
	fua := func(start bool, typ byte) []byte {
		h := typ
		if start {
			h |= 0x80
		}
		return []byte{0x7c, h, 0x88, 0x84}
	}
	tests := []struct {
		name    string
		payload []byte
		w, h    int
		key, ok bool
	}{
		{"single SPS", sps, 1280, 720, true, true},
		{"single IDR", idr, 0, 0, true, true},
		{"single PPS", pps, 0, 0, false, true},
		{"single non-IDR", nonIDR, 0, 0, false, true},
		{"STAP-A SPS PPS IDR", stap(sps, pps, idr), 1280, 720, true, true},
		{"STAP-A PPS non-IDR", stap(pps, nonIDR), 0, 0, false, true},
		{"STAP-A truncated size", []byte{0x78, 0x00}, 0, 0, false, false},
		{"STAP-A size past end", []byte{0x78, 0x00, 0x09, 0x67}, 0, 0, false, false},
		{"STAP-A zero size", []byte{0x78, 0x00, 0x00}, 0, 0, false, false},
		{"FU-A IDR start", fua(true, 5), 0, 0, true, true},
		{"FU-A IDR middle", fua(false, 5), 0, 0, false, true},
		{"FU-A non-IDR start", fua(true, 1), 0, 0, false, true},
		{"FU-A truncated", []byte{0x7c}, 0, 0, false, false},
		{"empty", nil, 0, 0, false, false},
		{"STAP-B", []byte{0x79, 0, 0}, 0, 0, false, false},
		{"type 0", []byte{0x00}, 0, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h, key, ok := H264Keyframe(tc.payload)
			if w != tc.w || h != tc.h || key != tc.key || ok != tc.ok {
				t.Fatalf("got (%d,%d,%v,%v), want (%d,%d,%v,%v)", w, h, key, ok, tc.w, tc.h, tc.key, tc.ok)
			}
		})
	}
}

func TestVP8Keyframe(t *testing.T) {
	// Start of a libvpx key frame, 320x240 (frame tag + start code + size + first bytes).
	frame := unhex(t, "b05a009d012a4001f0000007")
	inter := []byte{0x31, 0x5a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}
	with := func(desc []byte, f []byte) []byte { return append(append([]byte{}, desc...), f...) }
	tests := []struct {
		name    string
		payload []byte
		w, h    int
		ok      bool
	}{
		{"minimal descriptor", with([]byte{0x10}, frame), 320, 240, true},
		{"X I 7-bit picture id", with([]byte{0x90, 0x80, 0x12}, frame), 320, 240, true},
		{"X I 15-bit picture id", with([]byte{0x90, 0x80, 0x81, 0x23}, frame), 320, 240, true},
		{"X I L T K", with([]byte{0x90, 0xf0, 0x81, 0x23, 0x05, 0x20}, frame), 320, 240, true},
		{"X L only", with([]byte{0x90, 0x40, 0x05}, frame), 320, 240, true},
		{"X K only", with([]byte{0x90, 0x10, 0x01}, frame), 320, 240, true},
		{"N bit set still key", with([]byte{0x30}, frame), 320, 240, true},
		{"not partition start", with([]byte{0x00}, frame), 0, 0, false},
		{"partition 1", with([]byte{0x11}, frame), 0, 0, false},
		{"inter frame", with([]byte{0x10}, inter), 0, 0, false},
		{"bad start code", with([]byte{0x10}, []byte{0xb0, 0x5a, 0, 0x9d, 0x01, 0x2b, 0x40, 1, 0xf0, 0}), 0, 0, false},
		{"truncated header", with([]byte{0x10}, frame[:9]), 0, 0, false},
		{"truncated extension", []byte{0x90, 0x80}, 0, 0, false},
		{"truncated picture id", []byte{0x90, 0x80, 0x81}, 0, 0, false},
		{"empty", nil, 0, 0, false},
		{"scale bits ignored", with([]byte{0x10}, unhex(t, "b05a009d012a40c1f0c0")), 320, 240, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, h, ok := VP8Keyframe(tc.payload)
			if w != tc.w || h != tc.h || ok != tc.ok {
				t.Fatalf("got (%d,%d,%v), want (%d,%d,%v)", w, h, ok, tc.w, tc.h, tc.ok)
			}
		})
	}
}

func TestIsKeyframeAndDimensions(t *testing.T) {
	vp8 := append([]byte{0x10}, unhex(t, "b05a009d012a4001f0000007")...)
	sps := unhex(t, spsFixtures[0].hex)
	tests := []struct {
		codec   string
		payload []byte
		key     bool
		w, h    int
	}{
		{"VP8", vp8, true, 320, 240},
		{"video/VP8", vp8, true, 320, 240},
		{"vp8", vp8[:5], false, 0, 0},
		{"H264", sps, true, 320, 180},
		{"video/H264", []byte{0x65, 0x88}, true, 0, 0},
		{"opus", vp8, false, 0, 0},
		{"", nil, false, 0, 0},
	}
	for _, tc := range tests {
		if got := IsKeyframe(tc.codec, tc.payload); got != tc.key {
			t.Errorf("IsKeyframe(%q) = %v, want %v", tc.codec, got, tc.key)
		}
		w, h, ok := Dimensions(tc.codec, tc.payload)
		if w != tc.w || h != tc.h || ok != (tc.w > 0) {
			t.Errorf("Dimensions(%q) = %d,%d,%v want %d,%d", tc.codec, w, h, ok, tc.w, tc.h)
		}
	}
}

func TestIsKeyframeDoesNotAllocate(t *testing.T) {
	vp8 := append([]byte{0x10}, unhex(t, "b05a009d012a4001f0000007")...)
	sps := unhex(t, spsFixtures[1].hex)
	n := testing.AllocsPerRun(100, func() {
		IsKeyframe("video/VP8", vp8)
		Dimensions("H264", sps)
	})
	if n != 0 {
		t.Fatalf("%v allocations per probe, want 0", n)
	}
}
