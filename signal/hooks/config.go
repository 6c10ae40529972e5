package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/potok-media/potok/api/rest"
)

// OnError is restOnError: what an interaction error of a method does (see Decide).
type OnError string

// The values of restOnError.
const (
	OnErrorLog  OnError = "LOG"  // log it and go on (the default)
	OnErrorFail OnError = "FAIL" // abort a direct invocation; tell the client of an event's
)

// Policy is restPolicy: what the backend's answer of a method may do.
type Policy string

// The values of restPolicy. WCS's documents also write DISABLED; both are read as DISABLE.
const (
	PolicyNotify    Policy = "NOTIFY"    // the answer is ignored (the default)
	PolicyOverwrite Policy = "OVERWRITE" // the fields named in restOverwrite are taken from it
	PolicyDisable   Policy = "DISABLE"   // the hook is not sent; the client's data is used as is
)

// Method is one method's restClientConfig entry, parsed: lists split at commas, enumerations
// checked.
type Method struct {
	ClientExclude []string // fields not forwarded to the client in the WS event
	RestExclude   []string // fields not sent to the backend
	OnError       OnError
	Policy        Policy
	RestOverwrite []string // fields the answer may overwrite when Policy is OVERWRITE
}

// builtin is a method WCS's restClientConfig does not describe.
var builtin = Method{OnError: OnErrorLog, Policy: PolicyNotify}

// Config is a session's restClientConfig (docs/protocol.md §F): per method, the entry of the
// connect response over the app's Defaults over WCS's defaults (restOnError LOG, restPolicy
// NOTIFY, empty lists). A nil *Config is WCS's defaults for every method. A Config is not
// changed after ParseConfig, so it may be shared between goroutines.
type Config struct {
	methods map[string]Method
}

// entry is one restClientConfig value as it arrives: a nil field was absent, so the layer below
// shows through; a present empty list clears the layer below.
type entry struct {
	ClientExclude *string `json:"clientExclude"`
	RestExclude   *string `json:"restExclude"`
	RestOnError   *string `json:"restOnError"`
	RestPolicy    *string `json:"restPolicy"`
	RestOverwrite *string `json:"restOverwrite"`
}

// ParseConfig builds the Config of a session from the app's Defaults and the restClientConfig
// of its connect response (nil or JSON null: none). Parsing is lenient, as a backend's answer is
// not Potok's to reject: unknown fields are ignored, and an entry that is not an object, has a
// field of the wrong type or an unknown restOnError/restPolicy value is ignored as a whole (the
// layers below apply to that method). The error joins one error per ignored entry, for the log;
// the Config is always usable. A restClientConfig that is a JSON string holding an object (what
// a backend that encodes twice sends) is read as that object.
func ParseConfig(defaults map[string]rest.MethodConfig, restClientConfig json.RawMessage) (*Config, error) {
	c := &Config{methods: map[string]Method{}}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		d, e := defaults[name], entry{}
		for _, f := range []struct {
			dst **string
			v   string
		}{{&e.ClientExclude, d.ClientExclude}, {&e.RestExclude, d.RestExclude}, {&e.RestOnError, d.RestOnError},
			{&e.RestPolicy, d.RestPolicy}, {&e.RestOverwrite, d.RestOverwrite}} {
			if f.v != "" {
				*f.dst = &f.v
			}
		}
		if err := c.apply(Normalize(name), e); err != nil {
			errs = append(errs, fmt.Errorf("app default for %q: %w", name, err))
		}
	}
	entries, err := decodeEntries(restClientConfig)
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		raw, e := entries[name], entry{}
		if err := json.Unmarshal(raw, &e); err != nil || !isObject(raw) {
			errs = append(errs, fmt.Errorf("%w: restClientConfig %q: %w", ErrBadConfig, name, errNotEntry(err)))
			continue
		}
		if err := c.apply(Normalize(name), e); err != nil {
			errs = append(errs, fmt.Errorf("restClientConfig %q: %w", name, err))
		}
	}
	return c, errors.Join(errs...)
}

// decodeEntries splits restClientConfig into its method entries.
func decodeEntries(raw json.RawMessage) (map[string]json.RawMessage, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil || !isObject(raw) {
		return nil, fmt.Errorf("%w: restClientConfig is not an object: %w", ErrBadConfig, errNotEntry(err))
	}
	return entries, nil
}

func isObject(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return strings.HasPrefix(s, "{")
}

func errNotEntry(err error) error {
	if err != nil {
		return err
	}
	return errors.New("not a JSON object")
}

// apply lays e over what c holds for method, or leaves c as it was when e is not valid.
func (c *Config) apply(method string, e entry) error {
	m := c.method(method)
	if e.RestOnError != nil {
		v := OnError(strings.ToUpper(strings.TrimSpace(*e.RestOnError)))
		if v != OnErrorLog && v != OnErrorFail {
			return fmt.Errorf("%w: restOnError %q is neither LOG nor FAIL", ErrBadConfig, *e.RestOnError)
		}
		m.OnError = v
	}
	if e.RestPolicy != nil {
		v := Policy(strings.ToUpper(strings.TrimSpace(*e.RestPolicy)))
		if v == "DISABLED" {
			v = PolicyDisable
		}
		if v != PolicyNotify && v != PolicyOverwrite && v != PolicyDisable {
			return fmt.Errorf("%w: restPolicy %q is none of NOTIFY, OVERWRITE, DISABLE", ErrBadConfig, *e.RestPolicy)
		}
		m.Policy = v
	}
	if e.ClientExclude != nil {
		m.ClientExclude = splitList(*e.ClientExclude)
	}
	if e.RestExclude != nil {
		m.RestExclude = splitList(*e.RestExclude)
	}
	if e.RestOverwrite != nil {
		m.RestOverwrite = splitList(*e.RestOverwrite)
	}
	c.methods[method] = m
	return nil
}

// splitList reads a WCS comma list: "sdp, custom" → [sdp custom]; empty items are dropped.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// method is the configuration of method (normalised by the caller).
func (c *Config) method(method string) Method {
	if c == nil {
		return builtin
	}
	if m, ok := c.methods[method]; ok {
		return m
	}
	return builtin
}

// Method is the effective configuration of method. Its slices are shared: do not modify them.
func (c *Config) Method(method string) Method {
	return c.method(Normalize(method))
}

// Excluded is method's restExclude and clientExclude lists.
func (c *Config) Excluded(method string) (rest, client []string) {
	m := c.Method(method)
	return m.RestExclude, m.ClientExclude
}

// OnErrorFail reports whether method's restOnError is FAIL.
func (c *Config) OnErrorFail(method string) bool {
	return c.Method(method).OnError == OnErrorFail
}

// Policy is method's restPolicy.
func (c *Config) Policy(method string) Policy {
	return c.Method(method).Policy
}

// connectFixed are the fields of a connect answer that never override the connection: the
// server's own context and the configuration itself (docs/protocol.md §I: Potok's choice, as WCS
// only says the answer should mirror the request "unless a field should be overwritten").
var connectFixed = []string{"nodeId", "sessionId", "appKey", "restClientConfig"}

// Overwritable reports whether the backend's answer to method may overwrite field of the
// request: for connect any field but nodeId, sessionId, appKey and restClientConfig; for any
// other method only a field listed in restOverwrite under restPolicy OVERWRITE.
func (c *Config) Overwritable(method, field string) bool {
	method = Normalize(method)
	if method == Connect {
		for _, f := range connectFixed {
			if f == field {
				return false
			}
		}
		return true
	}
	m := c.method(method)
	if m.Policy != PolicyOverwrite {
		return false
	}
	for _, f := range m.RestOverwrite {
		if f == field {
			return true
		}
	}
	return false
}
