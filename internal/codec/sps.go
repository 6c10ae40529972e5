package codec

import (
	"errors"
	"fmt"
)

// errShort is returned when a bitstream ends before the syntax it must contain.
var errShort = errors.New("codec: bitstream truncated")

// maxDimension bounds decoded picture sizes (H.264 level 6.2 tops out at 8192x4320); larger
// values come from corrupt input.
const maxDimension = 16384

// ParseSPS decodes the picture size from an H.264 sequence parameter set NAL unit (with its
// one-byte NAL header), following ITU-T H.264 §7.3.2.1.1 and the frame cropping semantics of
// H.264 §7.4.2.1.1. Emulation prevention bytes are skipped on the fly.
func ParseSPS(nal []byte) (width, height int, err error) {
	if len(nal) < 4 || nal[0]&0x1f != nalSPS {
		return 0, 0, errors.New("codec: not an SPS NAL unit")
	}
	r := bitReader{buf: nal[1:]}
	profile := r.bits(8)
	r.bits(16) // constraint flags, reserved bits, level_idc
	r.ue()     // seq_parameter_set_id
	chroma, separate := uint32(1), false
	if highProfile(profile) {
		chroma = r.ue()
		if chroma > 3 {
			return 0, 0, fmt.Errorf("codec: SPS chroma_format_idc %d", chroma)
		}
		if chroma == 3 {
			separate = r.bit() == 1
		}
		r.ue()  // bit_depth_luma_minus8
		r.ue()  // bit_depth_chroma_minus8
		r.bit() // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 {
			n := 8
			if chroma == 3 {
				n = 12
			}
			for i := 0; i < n && r.err == nil; i++ {
				if r.bit() == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					r.skipScalingList(size)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bit() // delta_pic_order_always_zero_flag
		r.se()  // offset_for_non_ref_pic
		r.se()  // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return 0, 0, fmt.Errorf("codec: SPS num_ref_frames_in_pic_order_cnt_cycle %d", n)
		}
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.se()
		}
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	wMbs := r.ue() + 1
	hMapUnits := r.ue() + 1
	frameMbsOnly := r.bit()
	if frameMbsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.bit() == 1 {
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return 0, 0, fmt.Errorf("codec: SPS: %w", r.err)
	}
	if wMbs > maxDimension/16 || hMapUnits > maxDimension/16 {
		return 0, 0, fmt.Errorf("codec: SPS size %dx%d macroblocks out of range", wMbs, hMapUnits)
	}
	// Crop units (H.264 §7.4.2.1.1, Table 6-1): ChromaArrayType 0 crops in luma samples.
	cropX, cropY := uint32(1), 2-frameMbsOnly
	if !separate && chroma != 0 {
		subW, subH := uint32(2), uint32(2) // 4:2:0
		if chroma == 2 {
			subH = 1
		} else if chroma == 3 {
			subW, subH = 1, 1
		}
		cropX, cropY = subW, subH*(2-frameMbsOnly)
	}
	w := int64(wMbs)*16 - int64(cropX)*(int64(cl)+int64(cr))
	h := int64(2-frameMbsOnly)*int64(hMapUnits)*16 - int64(cropY)*(int64(ct)+int64(cb))
	if w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("codec: SPS cropping leaves %dx%d", w, h)
	}
	return int(w), int(h), nil
}

// highProfile reports whether the SPS of this profile_idc carries chroma_format_idc and the
// following fields (H.264 §7.3.2.1.1).
func highProfile(p uint32) bool {
	switch p {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// bitReader reads an RBSP MSB first, dropping emulation prevention bytes (00 00 03). The first
// error sticks; reads after it return 0.
type bitReader struct {
	buf   []byte
	pos   int  // next byte
	cur   byte // current byte
	nbits int  // bits left in cur
	zeros int  // consecutive zero bytes read, for emulation prevention
	err   error
}

func (r *bitReader) bit() uint32 {
	if r.err != nil {
		return 0
	}
	if r.nbits == 0 {
		if r.pos >= len(r.buf) {
			r.err = errShort
			return 0
		}
		b := r.buf[r.pos]
		r.pos++
		if r.zeros >= 2 && b == 3 {
			r.zeros = 0
			if r.pos >= len(r.buf) {
				r.err = errShort
				return 0
			}
			b = r.buf[r.pos]
			r.pos++
		}
		if b == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.nbits = b, 8
	}
	r.nbits--
	return uint32(r.cur>>r.nbits) & 1
}

func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned exp-Golomb code (H.264 §9.1); more than 31 leading zeros is corrupt input.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 {
		if r.err != nil {
			return 0
		}
		zeros++
		if zeros > 31 {
			r.err = errors.New("codec: exp-Golomb code too long")
			return 0
		}
	}
	if zeros == 0 {
		return 0
	}
	return (1<<zeros - 1) + r.bits(zeros)
}

// se reads a signed exp-Golomb code (H.264 §9.1.1).
func (r *bitReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}

// skipScalingList consumes scaling_list() (H.264 §7.3.2.1.1.1) without keeping it.
func (r *bitReader) skipScalingList(size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && r.err == nil; j++ {
		if next != 0 {
			delta := r.se()
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}
