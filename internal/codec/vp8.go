package codec

// VP8Keyframe parses the VP8 RTP payload descriptor (RFC 7741 §4.2) and, when the packet is the
// first packet of a key frame (S=1, PID=0, frame tag P bit 0), reads the key frame header
// (RFC 6386 §9.1): 3-byte frame tag, start code 9d 01 2a, 14-bit width and height.
// ok is false for anything else, including truncated or malformed input.
func VP8Keyframe(payload []byte) (width, height int, ok bool) {
	off, start := vp8DescriptorLen(payload)
	if off < 0 || !start {
		return 0, 0, false
	}
	h := payload[off:]
	// Frame tag (RFC 6386 §9.1): bit 0 is P, the inverse key frame flag; the key frame header
	// then continues with the start code and the scaled dimensions (7 more bytes).
	if len(h) < 10 || h[0]&0x01 != 0 {
		return 0, 0, false
	}
	if h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		return 0, 0, false
	}
	width = int(h[6]) | int(h[7]&0x3f)<<8 // upper 2 bits: horizontal scale, not part of the size
	height = int(h[8]) | int(h[9]&0x3f)<<8
	if width == 0 || height == 0 {
		return 0, 0, false
	}
	return width, height, true
}

// vp8DescriptorLen returns the length of the payload descriptor and whether this packet starts
// partition 0 of a frame (S=1, PID=0). off is -1 when the descriptor is truncated.
func vp8DescriptorLen(p []byte) (off int, start bool) {
	if len(p) < 1 {
		return -1, false
	}
	b := p[0]
	start = b&0x10 != 0 && b&0x07 == 0
	off = 1
	if b&0x80 == 0 { // X: no extension octet
		return off, start
	}
	if len(p) < 2 {
		return -1, false
	}
	x := p[1]
	off = 2
	if x&0x80 != 0 { // I: PictureID, 7 or 15 bits (M flag)
		if len(p) < off+1 {
			return -1, false
		}
		if p[off]&0x80 != 0 {
			off += 2
		} else {
			off++
		}
	}
	if x&0x40 != 0 { // L: TL0PICIDX
		off++
	}
	if x&0x30 != 0 { // T or K: TID/Y/KEYIDX share one octet
		off++
	}
	if off > len(p) {
		return -1, false
	}
	return off, start
}
