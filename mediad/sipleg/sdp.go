// Package sipleg is a call's plain RTP leg: the side of a media daemon's SIP bridge that faces the
// SIP peer (docs/protocol.md §E.9, §E.10). It speaks the SDP of that side (RTP/AVP, no ICE, no
// DTLS), owns the leg's UDP socket, sends what the WebRTC leg receives and hands on what the peer
// sends. The bridge never transcodes: both legs carry one codec they share.
package sipleg

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// MaxSDPSize bounds a SIP peer's SDP before it is parsed.
const MaxSDPSize = 16 << 10

// ErrBadSDP is the error of every SDP this package refuses.
var ErrBadSDP = errors.New("sipleg: bad SDP")

// Codec is one payload type of an m-line.
type Codec struct {
	PayloadType uint8
	Name        string // as written: "PCMU", "opus", "telephone-event"
	ClockRate   uint32
	Channels    uint16 // 0 = not said (1)
	Fmtp        string
}

// Is reports whether c is the codec name/rate (case-insensitive name).
func (c Codec) Is(name string, rate uint32) bool {
	return strings.EqualFold(c.Name, name) && c.ClockRate == rate
}

// String is the rtpmap value: "PCMU/8000", "opus/48000/2".
func (c Codec) String() string {
	s := c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
	if c.Channels > 1 {
		s += "/" + strconv.FormatUint(uint64(c.Channels), 10)
	}
	return s
}

// Media is the audio m-line of a SIP peer's SDP, as the bridge needs it.
type Media struct {
	Addr      net.IP // where the peer receives RTP (m-line c= or session c=)
	Port      int    // 0: the peer refused the stream
	Direction string // sendrecv, sendonly, recvonly, inactive
	Codecs    []Codec
}

// Parse reads the audio m-line of raw: its address, port, direction and codecs. Static payload
// types without an rtpmap (0 PCMU, 8 PCMA, 9 G722) are filled in.
func Parse(raw string) (*Media, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	if len(raw) > MaxSDPSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadSDP, len(raw), MaxSDPSize)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		return parseAudio(&sd, md)
	}
	return nil, fmt.Errorf("%w: no audio m-line", ErrBadSDP)
}

func parseAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription) (*Media, error) {
	m := &Media{Port: md.MediaName.Port.Value, Direction: "sendrecv"}
	conn := md.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return nil, fmt.Errorf("%w: no connection address", ErrBadSDP)
	}
	if m.Addr = net.ParseIP(conn.Address.Address); m.Addr == nil {
		return nil, fmt.Errorf("%w: connection address %q is not an IP", ErrBadSDP, conn.Address.Address)
	}
	if m.Port < 0 || m.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrBadSDP, m.Port)
	}
	maps, fmtps := map[uint8]Codec{}, map[uint8]string{}
	for _, a := range append(sd.Attributes, md.Attributes...) {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			m.Direction = a.Key
		case "rtpmap":
			if pt, c, ok := parseRtpmap(a.Value); ok {
				maps[pt] = c
			}
		case "fmtp":
			if pt, rest, ok := strings.Cut(a.Value, " "); ok {
				if n, err := strconv.ParseUint(pt, 10, 7); err == nil {
					fmtps[uint8(n)] = strings.TrimSpace(rest)
				}
			}
		}
	}
	if len(md.MediaName.Formats) > 64 {
		return nil, fmt.Errorf("%w: %d payload types", ErrBadSDP, len(md.MediaName.Formats))
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			return nil, fmt.Errorf("%w: payload type %q", ErrBadSDP, f)
		}
		pt := uint8(n)
		c, ok := maps[pt]
		if !ok {
			if c, ok = staticCodec(pt); !ok {
				continue // a dynamic type without rtpmap: unusable
			}
		}
		c.PayloadType, c.Fmtp = pt, fmtps[pt]
		m.Codecs = append(m.Codecs, c)
	}
	return m, nil
}

// parseRtpmap reads "96 opus/48000/2".
func parseRtpmap(v string) (uint8, Codec, bool) {
	pt, enc, ok := strings.Cut(v, " ")
	if !ok {
		return 0, Codec{}, false
	}
	n, err := strconv.ParseUint(pt, 10, 7)
	if err != nil {
		return 0, Codec{}, false
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return 0, Codec{}, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || rate == 0 {
		return 0, Codec{}, false
	}
	c := Codec{Name: parts[0], ClockRate: uint32(rate)}
	if len(parts) > 2 {
		ch, err := strconv.ParseUint(parts[2], 10, 8)
		if err != nil {
			return 0, Codec{}, false
		}
		c.Channels = uint16(ch)
	}
	return uint8(n), c, true
}

// staticCodec is the codec of a static audio payload type (RFC 3551) the bridge can carry.
func staticCodec(pt uint8) (Codec, bool) {
	switch pt {
	case 0:
		return Codec{Name: "PCMU", ClockRate: 8000}, true
	case 8:
		return Codec{Name: "PCMA", ClockRate: 8000}, true
	case 9:
		return Codec{Name: "G722", ClockRate: 8000}, true
	}
	return Codec{}, false
}

// Build writes the SDP of the daemon's RTP leg: one audio m-line at ip:port with codecs, in
// their order, and direction. sessionID and version make the o= line (a re-INVITE increments
// version).
func Build(ip net.IP, port int, codecs []Codec, direction string, sessionID, version uint64) string {
	var b strings.Builder
	fam := "IP4"
	if ip.To4() == nil {
		fam = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\no=potok %d %d IN %s %s\r\ns=potok\r\nc=IN %s %s\r\nt=0 0\r\n",
		sessionID, version, fam, ip, fam, ip)
	pts := make([]string, len(codecs))
	for i, c := range codecs {
		pts[i] = strconv.Itoa(int(c.PayloadType))
	}
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", port, strings.Join(pts, " "))
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s\r\n", c.PayloadType, c)
		if c.Fmtp != "" {
			fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", c.PayloadType, c.Fmtp)
		}
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", direction)
	return b.String()
}
