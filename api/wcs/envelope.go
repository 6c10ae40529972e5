// Package wcs holds the Flashphoner WCS 5.x raw WebSocket protocol: the frame envelope, the message
// bodies, the status enumerations and their info strings. It has no behaviour beyond encoding and
// decoding, and it compiles for GOOS=js so the WASM client shares it (docs/protocol.md §A–§D).
package wcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits applied to every client frame before it is parsed. WCS itself is lenient about content
// (docs/protocol.md §A.3) but a server must be strict about size and shape.
const (
	// MaxFrameBytes is the default ceiling for one text frame. An SDP offer from Chromium with
	// every codec is ~10 KiB; the WebSDK's localMediaInfo and constraints add a few KiB more.
	MaxFrameBytes = 256 << 10
	// MaxDepth bounds JSON nesting so a hostile frame cannot exhaust the stack.
	MaxDepth = 32
)

// Sentinel errors returned by Decode.
var (
	ErrTooLarge   = errors.New("wcs: frame too large")
	ErrTooDeep    = errors.New("wcs: JSON nested too deeply")
	ErrNoMessage  = errors.New("wcs: frame has no message name")
	ErrNotObject  = errors.New("wcs: frame is not a JSON object")
	ErrNoArgument = errors.New("wcs: message has no such argument")
)

// Envelope is one frame in either direction: {"message": name, "data": [args...]} (docs/protocol.md §A.1).
type Envelope struct {
	Message string            `json:"message"`
	Data    []json.RawMessage `json:"data"`
}

// Decode parses a client frame leniently: a missing or null "data" is an empty argument list, and
// data:[null] is one null argument (§A.1). Size and depth are checked before parsing.
func Decode(frame []byte, maxBytes int) (Envelope, error) {
	var env Envelope
	if maxBytes <= 0 {
		maxBytes = MaxFrameBytes
	}
	if len(frame) > maxBytes {
		return env, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(frame), maxBytes)
	}
	if err := checkDepth(frame, MaxDepth); err != nil {
		return env, err
	}
	trimmed := bytes.TrimSpace(frame)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return env, ErrNotObject
	}
	var raw struct {
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return env, fmt.Errorf("wcs: malformed frame: %w", err)
	}
	if raw.Message == nil || *raw.Message == "" {
		return env, ErrNoMessage
	}
	env.Message = *raw.Message
	data := bytes.TrimSpace(raw.Data)
	switch {
	case len(data) == 0, bytes.Equal(data, []byte("null")):
		// no arguments
	case data[0] == '[':
		if err := json.Unmarshal(data, &env.Data); err != nil {
			return env, fmt.Errorf("wcs: malformed data of %q: %w", env.Message, err)
		}
	default:
		// Some legacy senders put the single argument directly in data; accept it as data[0].
		env.Data = []json.RawMessage{data}
	}
	return env, nil
}

// Arg decodes argument i into v. A missing or null argument returns ErrNoArgument so handlers can
// answer with the WCS error of their choice (e.g. "MediaSessionId is null").
func (e Envelope) Arg(i int, v any) error {
	if i >= len(e.Data) || len(e.Data[i]) == 0 || bytes.Equal(bytes.TrimSpace(e.Data[i]), []byte("null")) {
		return fmt.Errorf("%w: %s data[%d]", ErrNoArgument, e.Message, i)
	}
	if err := json.Unmarshal(e.Data[i], v); err != nil {
		return fmt.Errorf("wcs: %s data[%d]: %w", e.Message, i, err)
	}
	return nil
}

// Encode builds a server frame. data is always a JSON array, [] when there are no arguments,
// because the WebSDK dereferences data[0] unconditionally (docs/protocol.md §0 rule 1).
func Encode(message string, args ...any) ([]byte, error) {
	if args == nil {
		args = []any{}
	}
	b, err := json.Marshal(struct {
		Message string `json:"message"`
		Data    []any  `json:"data"`
	}{message, args})
	if err != nil {
		return nil, fmt.Errorf("wcs: encode %s: %w", message, err)
	}
	return b, nil
}

// checkDepth scans the raw bytes once and rejects nesting deeper than max, skipping strings.
func checkDepth(b []byte, max int) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return ErrTooDeep
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
