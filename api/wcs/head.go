package wcs

import (
	"bytes"
	"encoding/json"
	"strings"
)

// HeadBytes is how much of a frame too large to be parsed is kept to tell what it was. The WebSDK
// serialises {"message", "data":[{"mediaSessionId", "name", ..., "sdp", ...}]} in that order
// (flashphoner-core.js send, publish, play), so the message name, the stream's id and a name of
// MaxStreamNameBytes, even escaped as \uXXXX throughout, lie within it.
const HeadBytes = 8 << 10

// Head is what PeekHead recovers from the start of a frame: the message name and the
// mediaSessionId and name of the stream object in data[0]. A field not read to its end is "".
type Head struct {
	Message        string
	MediaSessionID string
	Name           string
}

// PeekHead reads the message name and data[0]'s mediaSessionId and name from the first HeadBytes
// of frame, which may be cut anywhere: it never fails, what it cannot read completely stays "". On
// a frame that Decode accepts it agrees with Decode and StreamRequest: keys match case-insensitively,
// the last of duplicate keys wins, and the id and name may be numbers, booleans or null (§A.3).
func PeekHead(frame []byte) Head {
	if len(frame) > HeadBytes {
		frame = frame[:HeadBytes]
	}
	p := peeker{dec: json.NewDecoder(bytes.NewReader(frame)), size: len(frame)}
	p.dec.UseNumber()
	var h Head
	if !p.delim('{') {
		return h
	}
	for {
		key, more, _ := p.key()
		if !more {
			return h
		}
		switch {
		case strings.EqualFold(key, "message"):
			tok, ok := p.value()
			if !ok {
				return h
			}
			h.Message, _ = tok.(string) // null or another type: no name (Decode refuses it)
		case strings.EqualFold(key, "data"):
			// The last "data" is what Decode keeps.
			h.MediaSessionID, h.Name = "", ""
			if !p.data(&h) {
				return h
			}
		default:
			if _, ok := p.value(); !ok {
				return h
			}
		}
	}
}

// peeker walks the tokens of a possibly cut JSON text; every method reports false once the input
// ends or breaks, and the walk stops there.
type peeker struct {
	dec  *json.Decoder
	size int
}

func (p *peeker) token() (json.Token, bool) {
	tok, err := p.dec.Token()
	return tok, err == nil
}

func (p *peeker) delim(d json.Delim) bool {
	tok, ok := p.token()
	return ok && tok == d
}

// key reads the next key of the current object. more is false at the object's end; ok is false when
// the input ends or breaks.
func (p *peeker) key() (key string, more, ok bool) {
	tok, ok := p.token()
	if !ok {
		return "", false, false
	}
	if tok == json.Delim('}') {
		return "", false, true
	}
	key, ok = tok.(string)
	return key, ok, ok
}

// value reads one value. A scalar comes back as its token; a number only when the input goes on
// after it, because a cut number ("12" of "123") reads as a whole one. An object or array is skipped
// and comes back as nil.
func (p *peeker) value() (json.Token, bool) {
	tok, ok := p.token()
	if !ok {
		return nil, false
	}
	return p.rest(tok)
}

// rest completes the value that starts with tok.
func (p *peeker) rest(tok json.Token) (json.Token, bool) {
	switch tok := tok.(type) {
	case json.Delim:
		if tok != '{' && tok != '[' {
			return nil, false // a closing delimiter is no value
		}
		return nil, p.skipFrom(1)
	case json.Number:
		return tok, p.dec.InputOffset() < int64(p.size)
	default:
		return tok, true
	}
}

// skipFrom skips until depth open objects or arrays are closed. The depth is a counter, so however
// deep the input nests there is no recursion.
func (p *peeker) skipFrom(depth int) bool {
	for depth > 0 {
		tok, ok := p.token()
		if !ok {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// data reads the value of "data": [obj, ...] or, as Decode accepts from legacy senders, a bare obj.
// Any other value names no stream and is skipped.
func (p *peeker) data(h *Head) bool {
	tok, ok := p.token()
	if !ok {
		return false
	}
	switch tok {
	case json.Delim('['):
		first, ok := p.token()
		switch {
		case !ok:
			return false
		case first == json.Delim(']'):
			return true
		case first == json.Delim('{'):
			if !p.stream(h) {
				return false
			}
		default:
			if _, ok := p.rest(first); !ok {
				return false
			}
		}
		return p.skipFrom(1) // the other elements and the closing bracket
	case json.Delim('{'):
		return p.stream(h)
	default:
		_, ok := p.rest(tok)
		return ok
	}
}

// stream reads the stream object to its end, its opening brace already read.
func (p *peeker) stream(h *Head) bool {
	for {
		key, more, ok := p.key()
		if !more {
			return ok
		}
		var field *string
		switch {
		case strings.EqualFold(key, "mediaSessionId"):
			field = &h.MediaSessionID
		case strings.EqualFold(key, "name"):
			field = &h.Name
		}
		tok, ok := p.value()
		if !ok {
			return false
		}
		if field != nil {
			*field = scalarText(tok)
		}
	}
}

// scalarText renders a value as String does: text as is, numbers and booleans as written, null as
// "". An object or array (nil here) makes String fail; "" is as good as any answer.
func scalarText(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	default:
		return ""
	}
}
