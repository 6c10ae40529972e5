package wcs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Bool accepts a JSON boolean, the strings "true"/"false" (REST bodies and demo forms send those,
// docs/protocol.md §A.3), a number (non-zero is true) or null (false).
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(data)), `"`)
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		*b = true
	case "false", "0", "", "null", "no", "off":
		*b = false
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return &json.UnmarshalTypeError{Value: string(data), Type: boolType}
		}
		*b = f != 0
	}
	return nil
}

// Int accepts a JSON number, a numeric string ("5060" from demo forms) or null (0).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(strings.Trim(string(bytes.TrimSpace(data)), `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(data), Type: intType}
	}
	*n = Int(f)
	return nil
}

// String accepts a JSON string, a number or boolean (rendered as text), or null (""). The WebSDK
// sends a DTMF digit as a number and some legacy fields as numbers.
type String string

// UnmarshalJSON implements json.Unmarshaler.
func (s *String) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		*s = ""
		return nil
	}
	if data[0] == '"' {
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = String(v)
		return nil
	}
	if data[0] == '{' || data[0] == '[' {
		return &json.UnmarshalTypeError{Value: "object", Type: stringType}
	}
	*s = String(data)
	return nil
}
