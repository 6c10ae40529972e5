package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// StripRest is body without method's restExclude fields (docs/protocol.md §F: e.g. "sdp" keeps
// the offer away from the backend). body itself is not changed; when nothing is excluded it is
// returned as is.
func (c *Config) StripRest(method string, body map[string]any) map[string]any {
	excl, _ := c.Excluded(method)
	if len(excl) == 0 {
		return body
	}
	out := make(map[string]any, len(body))
	for k, v := range body {
		if !slices.Contains(excl, k) {
			out[k] = v
		}
	}
	return out
}

// StripClient is the encoded JSON object obj without method's clientExclude fields: what the
// session sends to the client in the WS event of method. The other members keep their order and
// their bytes. When nothing is excluded obj is returned unchanged and unparsed; an obj that is
// not a JSON object is an error (the caller should send obj as it is and log).
func (c *Config) StripClient(method string, obj []byte) ([]byte, error) {
	_, excl := c.Excluded(method)
	if len(excl) == 0 {
		return obj, nil
	}
	return removeMembers(obj, excl)
}

// removeMembers rewrites the object obj without the members named in drop, keeping the order of
// the others (encoding/json's map encoding would sort them).
func removeMembers(obj []byte, drop []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadObject)
	}
	var out bytes.Buffer
	out.Grow(len(obj))
	out.WriteByte('{')
	first, removed := true, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadObject, err)
		}
		key, _ := tok.(string) // an object's tokens alternate key, value: a key is a string
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("%w: member %q: %w", ErrBadObject, key, err)
		}
		if slices.Contains(drop, key) {
			removed = true
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key) // a string always encodes
		out.Write(k)
		out.WriteByte(':')
		out.Write(val)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadObject, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrBadObject)
	}
	if !removed {
		return obj, nil
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
