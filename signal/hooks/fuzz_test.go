package hooks

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// FuzzResponse feeds the decoder of backend answers any body with any status: it must not panic,
// a failure always has an Info for the client, and Body is set only for a JSON object.
func FuzzResponse(f *testing.F) {
	for _, seed := range []struct {
		body   string
		status int
	}{
		{`{"status":403,"reason":"Wrong credentials"}`, 403},
		{``, 403}, {`<html>`, 500}, {`{"name":"s1","sdp":"v=0"}`, 200}, {`null`, 200}, {`[1]`, 200},
		{`{"status":"403","reason":""}`, 599}, {`{"status":1e400,"reason":"x"}`, -1},
	} {
		f.Add([]byte(seed.body), seed.status)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		info, fields := decodeResponse(status, body)
		if info == "" {
			t.Fatalf("status %d body %q: empty info", status, body)
		}
		if fields != nil && !json.Valid(body) {
			t.Fatalf("body %q is not JSON but gave fields %v", body, fields)
		}
		if status == http.StatusOK && info != "OK" {
			t.Fatalf("200 with info %q", info)
		}
	})
}

// FuzzClientConfig feeds ParseConfig any restClientConfig: it must not panic, must always give a
// usable Config with valid enumerations, and StripClient on a valid object must give a valid
// object without the excluded members.
func FuzzClientConfig(f *testing.F) {
	for _, seed := range []string{
		`{"StreamKeepAliveEvent":{"restExclude":"sdp","restOnError":"FAIL","restPolicy":"NOTIFY"}}`,
		`{"publishStream":{"restPolicy":"OVERWRITE","restOverwrite":"name","clientExclude":"sdp,custom"}}`,
		`{"StreamStatusEvent":{"clientExclude":"name, info"}}`,
		`"{\"playStream\":{\"restPolicy\":\"DISABLED\"}}"`, `[]`, `null`, `{"a":5}`, `{"a":{"restExclude":5}}`,
	} {
		f.Add([]byte(seed), []byte(`{"name":"s1","info":null,"sdp":"v=0","custom":{"a":1}}`))
	}
	f.Fuzz(func(t *testing.T, raw, obj []byte) {
		cfg, _ := ParseConfig(nil, raw)
		if cfg == nil {
			t.Fatal("nil Config")
		}
		methods := append(AllMethods(), "unknown")
		for name := range cfg.methods {
			methods = append(methods, name)
		}
		for _, m := range methods {
			c := cfg.Method(m)
			if !slices.Contains([]OnError{OnErrorLog, OnErrorFail}, c.OnError) ||
				!slices.Contains([]Policy{PolicyNotify, PolicyOverwrite, PolicyDisable}, c.Policy) {
				t.Fatalf("%s: invalid %+v", m, c)
			}
			cfg.Overwritable(m, "name")
			out, err := cfg.StripClient(m, obj)
			if !json.Valid(obj) || !isObject(obj) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: StripClient of the valid object %q: %v", m, obj, err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: StripClient(%q) = %q, not an object: %v", m, obj, out, err)
			}
			for _, x := range c.ClientExclude {
				if _, ok := got[x]; ok {
					t.Fatalf("%s: %q still has %q", m, out, x)
				}
			}
		}
	})
}
