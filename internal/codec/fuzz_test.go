package codec

import "testing"

func FuzzVP8Keyframe(f *testing.F) {
	f.Add([]byte{0x10, 0xb0, 0x5a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	f.Add([]byte{0x90, 0xf0, 0x81, 0x23, 0x05, 0x20, 0xb0, 0x5a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
	f.Add([]byte{0x90, 0x80})
	f.Fuzz(func(t *testing.T, p []byte) {
		w, h, ok := VP8Keyframe(p)
		if ok && (w <= 0 || h <= 0 || w > 0x3fff || h > 0x3fff) {
			t.Fatalf("ok with size %dx%d", w, h)
		}
		if ok != IsKeyframe("VP8", p) {
			t.Fatal("IsKeyframe disagrees with VP8Keyframe")
		}
	})
}

func FuzzH264(f *testing.F) {
	for _, s := range spsFixtures {
		b := unhex(f, s.hex)
		f.Add(b)
		f.Add(append([]byte{0x78, 0, byte(len(b))}, b...))
	}
	f.Add([]byte{0x7c, 0x85, 0x88})
	f.Fuzz(func(t *testing.T, p []byte) {
		w, h, key, ok := H264Keyframe(p)
		if (w != 0 || h != 0) && (!key || !ok) {
			t.Fatalf("size %dx%d without key/ok", w, h)
		}
		if w < 0 || h < 0 || w > maxDimension || h > maxDimension*2 {
			t.Fatalf("size %dx%d out of range", w, h)
		}
		if len(p) > 0 {
			_, _, _ = ParseSPS(p)
		}
	})
}
