package rtc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Bounds for client offers. A WebSDK offer is 3–8 KiB with two m-lines; anything far beyond that
// is hostile or broken, and pion's parser should never see it.
const (
	MaxOfferSize     = 64 << 10
	MaxMediaSections = 8
	maxFormats       = 64 // payload types on one m-line (Chrome offers ~20 for video)
)

// ErrBadOffer wraps every reason an offer is refused before it reaches pion.
var ErrBadOffer = errors.New("rtc: bad SDP offer")

// Offer is what the daemon needs to know about a client offer (docs/protocol.md §H.3).
type Offer struct {
	Media []Media
}

// Media is one audio or video m-line of an offer.
type Media struct {
	Kind      webrtc.RTPCodecType
	Mid       string
	Direction string // sendonly, recvonly, sendrecv, inactive
	Port      int    // 0 = rejected m-line (in answers)
	Codecs    []OfferCodec
}

// OfferCodec is one payload type with its rtpmap and fmtp.
type OfferCodec struct {
	PayloadType uint8
	Name        string // as written, e.g. "VP8", "H264", "opus"
	ClockRate   uint32
	Channels    uint16
	Fmtp        string
}

// ParseOffer validates an offer and summarises it. It is called before SetRemoteDescription so
// that oversized or malformed input gets a clear error instead of reaching pion.
func ParseOffer(raw string) (*Offer, error) {
	switch {
	case raw == "":
		return nil, fmt.Errorf("%w: empty", ErrBadOffer)
	case len(raw) > MaxOfferSize:
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadOffer, len(raw), MaxOfferSize)
	case !utf8.ValidString(raw):
		return nil, fmt.Errorf("%w: not UTF-8", ErrBadOffer)
	case strings.Count(raw, "m=") > 4*MaxMediaSections: // cheap pre-check before parsing
		return nil, fmt.Errorf("%w: too many media sections", ErrBadOffer)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if n := len(sd.MediaDescriptions); n == 0 || n > MaxMediaSections {
		return nil, fmt.Errorf("%w: %d media sections, want 1..%d", ErrBadOffer, n, MaxMediaSections)
	}
	if err := checkSecurity(&sd); err != nil {
		return nil, err
	}
	o := &Offer{}
	mids := map[string]bool{}
	for i, md := range sd.MediaDescriptions {
		m, err := parseMedia(md)
		if err != nil {
			return nil, fmt.Errorf("%w: m-line %d: %v", ErrBadOffer, i, err)
		}
		if m.Kind == 0 {
			continue // application (data channel) m-line: accepted, carries no media
		}
		if mids[m.Mid] {
			return nil, fmt.Errorf("%w: duplicate mid %q", ErrBadOffer, m.Mid)
		}
		mids[m.Mid] = true
		o.Media = append(o.Media, m)
	}
	if len(o.Media) == 0 {
		return nil, fmt.Errorf("%w: no audio or video m-line", ErrBadOffer)
	}
	return o, nil
}

// checkSecurity requires ICE credentials and a DTLS fingerprint (session or media level), which
// pion needs anyway but reports less clearly.
func checkSecurity(sd *sdp.SessionDescription) error {
	_, ufrag := sd.Attribute("ice-ufrag")
	_, fp := sd.Attribute("fingerprint")
	for _, md := range sd.MediaDescriptions {
		if _, ok := md.Attribute("ice-ufrag"); ok {
			ufrag = true
		}
		if _, ok := md.Attribute("fingerprint"); ok {
			fp = true
		}
	}
	if !ufrag {
		return fmt.Errorf("%w: no ICE credentials (a=ice-ufrag)", ErrBadOffer)
	}
	if !fp {
		return fmt.Errorf("%w: no DTLS fingerprint (a=fingerprint)", ErrBadOffer)
	}
	return nil
}

func parseMedia(md *sdp.MediaDescription) (Media, error) {
	var m Media
	switch strings.ToLower(md.MediaName.Media) {
	case "audio":
		m.Kind = webrtc.RTPCodecTypeAudio
	case "video":
		m.Kind = webrtc.RTPCodecTypeVideo
	case "application":
		return m, nil
	default:
		return m, fmt.Errorf("media type %q", md.MediaName.Media)
	}
	if len(md.MediaName.Formats) > maxFormats {
		return m, fmt.Errorf("%d payload types, limit %d", len(md.MediaName.Formats), maxFormats)
	}
	m.Mid, _ = md.Attribute("mid")
	m.Port = md.MediaName.Port.Value
	m.Direction = "sendrecv"
	byPT := map[uint8]int{}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return m, fmt.Errorf("payload type %q", f)
		}
		byPT[uint8(pt)] = len(m.Codecs)
		m.Codecs = append(m.Codecs, OfferCodec{PayloadType: uint8(pt)})
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendonly", "recvonly", "sendrecv", "inactive":
			m.Direction = a.Key
		case "rtpmap":
			pt, rest, ok := splitPT(a.Value)
			if i, known := byPT[pt]; ok && known {
				parseRtpmap(&m.Codecs[i], rest)
			}
		case "fmtp":
			pt, rest, ok := splitPT(a.Value)
			if i, known := byPT[pt]; ok && known {
				m.Codecs[i].Fmtp = rest
			}
		}
	}
	// Static payload types without rtpmap (RFC 3551): PCMU 0, PCMA 8.
	for i := range m.Codecs {
		c := &m.Codecs[i]
		if c.Name == "" && c.PayloadType == 0 {
			c.Name, c.ClockRate, c.Channels = "PCMU", 8000, 1
		} else if c.Name == "" && c.PayloadType == 8 {
			c.Name, c.ClockRate, c.Channels = "PCMA", 8000, 1
		}
	}
	return m, nil
}

func splitPT(v string) (uint8, string, bool) {
	ptStr, rest, _ := strings.Cut(v, " ")
	pt, err := strconv.ParseUint(ptStr, 10, 8)
	if err != nil || pt > 127 {
		return 0, "", false
	}
	return uint8(pt), strings.TrimSpace(rest), true
}

// parseRtpmap reads "<name>/<clock>[/<channels>]".
func parseRtpmap(c *OfferCodec, v string) {
	parts := strings.Split(v, "/")
	c.Name = parts[0]
	if len(parts) > 1 {
		if n, err := strconv.ParseUint(parts[1], 10, 32); err == nil {
			c.ClockRate = uint32(n)
		}
	}
	c.Channels = 1
	if len(parts) > 2 {
		if n, err := strconv.ParseUint(parts[2], 10, 16); err == nil {
			c.Channels = uint16(n)
		}
	}
}

// Kind returns the first m-line of a kind, or nil.
func (o *Offer) Kind(kind webrtc.RTPCodecType) *Media {
	for i := range o.Media {
		if o.Media[i].Kind == kind {
			return &o.Media[i]
		}
	}
	return nil
}

// Supports reports whether an m-line offers a codec compatible with c: same name and clock rate,
// and for H.264 the same packetization-mode and profile (RFC 6184 §8.2.2; the level may differ).
func (m *Media) Supports(c webrtc.RTPCodecCapability) bool {
	name := MimeName(c.MimeType)
	for _, oc := range m.Codecs {
		if !strings.EqualFold(oc.Name, name) || oc.ClockRate != c.ClockRate {
			continue
		}
		if strings.EqualFold(name, "H264") && !H264FmtpMatch(oc.Fmtp, c.SDPFmtpLine) {
			continue
		}
		return true
	}
	return false
}

// MimeName returns the codec part of a MIME type ("video/VP8" → "VP8").
func MimeName(mime string) string {
	if _, n, ok := strings.Cut(mime, "/"); ok {
		return n
	}
	return mime
}

// H264FmtpMatch compares packetization-mode (default 0) and the profile part (first two bytes)
// of profile-level-id (default 42000a) of two H.264 fmtp lines.
func H264FmtpMatch(a, b string) bool {
	pa, ma := h264Params(a)
	pb, mb := h264Params(b)
	return ma == mb && len(pa) >= 4 && len(pb) >= 4 && strings.EqualFold(pa[:4], pb[:4])
}

func h264Params(fmtp string) (profile, mode string) {
	profile, mode = "42000a", "0"
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "profile-level-id":
			profile = v
		case "packetization-mode":
			mode = v
		}
	}
	return profile, mode
}
