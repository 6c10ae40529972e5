package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// readBody reads a request body of at most limit bytes. A body over the limit is a 413, not a
// 400: the request may be well formed, just too large.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &statusError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body too large: limit %d bytes", tooLarge.Limit)}
	case err != nil:
		return nil, badRequest("read the request body: %v", err)
	}
	return b, nil
}

// fields is a request body as a JSON object whose members are read one by one. WCS is lenient with
// what its callers send, and existing backends rely on it: unknown members are ignored, a null
// member counts as absent, and a boolean may be the string "true" or "false" (WCS accepts both,
// docs/protocol.md §G). Every other type mismatch is a 400 naming the member. The first error is
// kept; later reads return zero values, so a decoder reads all its members and checks err once.
type fields struct {
	m   map[string]json.RawMessage
	err error
}

// parseFields reads body as a JSON object. The WebSDK's REST helper sends GET without a body for
// parameter-less calls (docs/protocol.md §H.12), so an absent or blank body, like null, is {}.
func parseFields(body []byte) (*fields, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return &fields{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, badRequest("malformed JSON body: %v", err)
	}
	return &fields{m: m}, nil
}

// get returns the member's raw value, nil when absent or null.
func (f *fields) get(name string) json.RawMessage {
	raw := f.m[name]
	if raw == nil || string(raw) == "null" {
		return nil
	}
	return raw
}

func (f *fields) fail(name, want string, raw json.RawMessage) {
	if f.err == nil {
		f.err = badRequest("field %q: want %s, got %s", name, want, kindOf(raw))
	}
}

// str reads a string member; "" when absent.
func (f *fields) str(name string) string {
	raw := f.get(name)
	if raw == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		f.fail(name, "a string", raw)
	}
	return s
}

// symbol reads a member that may be a string or a JSON number (a DTMF digit, docs/protocol.md
// §B.17); "" when absent.
func (f *fields) symbol(name string) string {
	raw := f.get(name)
	if raw == nil {
		return ""
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String()
	}
	return f.str(name)
}

// required reads a string member that must be present and not empty.
func (f *fields) required(name string) string {
	s := f.str(name)
	if s == "" && f.err == nil {
		f.err = badRequest("field %q is required", name)
	}
	return s
}

// boolean reads a boolean member, also written "true" or "false" (any case); nil when absent.
func (f *fields) boolean(name string) *bool {
	raw := f.get(name)
	if raw == nil {
		return nil
	}
	var v bool
	if json.Unmarshal(raw, &v) == nil {
		return &v
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch {
		case strings.EqualFold(s, "true"):
			v = true
			return &v
		case strings.EqualFold(s, "false"):
			return &v
		}
	}
	f.fail(name, `a boolean (or "true"/"false")`, raw)
	return nil
}

// strs reads a list of strings; a lone string is a list of one, as a hand-written call often
// sends display:"metrics" for display:["metrics"].
func (f *fields) strs(name string) []string {
	raw := f.get(name)
	if raw == nil {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	f.fail(name, "a list of strings", raw)
	return nil
}

// raw returns any JSON value as it was sent (payloads are forwarded to clients untouched).
func (f *fields) raw(name string) json.RawMessage {
	return f.get(name)
}

// into decodes a member with encoding/json's own rules into v (nested objects of the App).
func (f *fields) into(name string, v any) {
	raw := f.get(name)
	if raw == nil || f.err != nil {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		f.err = badRequest("field %q: %v", name, err)
	}
}

// kindOf names a JSON value's type for an error message, quoting short strings so that the
// caller sees which value was refused ("published":"yes").
func kindOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		if len(raw) <= 34 {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return fmt.Sprintf("string %q", s)
			}
		}
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}
