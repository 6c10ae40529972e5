package codec

// H.264 NAL unit types (ITU-T H.264 Table 7-1) and RTP packetization types (RFC 6184 §5.2).
const (
	nalIDR  = 5
	nalSPS  = 7
	nalPPS  = 8
	nalSTPA = 24
	nalFUA  = 28
)

// H264Keyframe inspects an H.264 RTP payload (RFC 6184: single NAL unit, STAP-A, FU-A).
// isKeyframe is true when the packet carries an SPS or the start of an IDR slice, i.e. a decoder
// can start here. width/height are set when an SPS in the packet could be parsed (ITU-T H.264
// §7.3.2.1.1, cropping applied). ok is false when the payload is malformed.
func H264Keyframe(payload []byte) (width, height int, isKeyframe bool, ok bool) {
	if len(payload) < 1 {
		return 0, 0, false, false
	}
	switch typ := payload[0] & 0x1f; {
	case typ >= 1 && typ <= 23:
		w, h, key := h264NAL(payload)
		return w, h, key, true
	case typ == nalSTPA:
		return h264STAPA(payload[1:])
	case typ == nalFUA:
		if len(payload) < 2 {
			return 0, 0, false, false
		}
		fu := payload[1]
		if fu&0x80 == 0 { // not the start fragment: nothing a decoder can start from
			return 0, 0, false, true
		}
		t := fu & 0x1f
		return 0, 0, t == nalIDR || t == nalSPS, true
	default: // 0, STAP-B, MTAP, FU-B, reserved: not sent by browsers
		return 0, 0, false, false
	}
}

// h264STAPA walks the aggregation units of a STAP-A (RFC 6184 §5.7.1): 16-bit size + NAL unit.
func h264STAPA(p []byte) (width, height int, key bool, ok bool) {
	for len(p) > 0 {
		if len(p) < 2 {
			return 0, 0, false, false
		}
		n := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if n == 0 || n > len(p) {
			return 0, 0, false, false
		}
		w, h, k := h264NAL(p[:n])
		if w > 0 {
			width, height = w, h
		}
		key = key || k
		p = p[n:]
	}
	return width, height, key, true
}

// h264NAL classifies one complete NAL unit.
func h264NAL(nal []byte) (width, height int, key bool) {
	switch nal[0] & 0x1f {
	case nalIDR:
		return 0, 0, true
	case nalSPS:
		w, h, err := ParseSPS(nal)
		if err != nil {
			return 0, 0, true
		}
		return w, h, true
	}
	return 0, 0, false
}
