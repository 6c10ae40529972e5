package hooks

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/potok-media/potok/api/rest"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		defaults map[string]rest.MethodConfig
		raw      string
		method   string
		want     Method
		bad      bool // an error is reported
	}{
		{name: "none", raw: "", method: PublishStream, want: builtin},
		{name: "null", raw: "null", method: PublishStream, want: builtin},
		{name: "the WCS docs example", method: StreamKeepAliveEvent,
			raw:  `{"ConnectionStatusEvent":{"restExclude":"","clientExclude":"","restOnError":"LOG","restPolicy":"NOTIFY","restOverwrite":""},"StreamKeepAliveEvent":{"restExclude":"sdp","restOnError":"FAIL","restPolicy":"NOTIFY"}}`,
			want: Method{RestExclude: []string{"sdp"}, OnError: OnErrorFail, Policy: PolicyNotify}},
		{name: "lists and case", method: PublishStream,
			raw:  `{"publishStream":{"restOnError":"fail","restPolicy":" overwrite ","restOverwrite":"name, record,,","clientExclude":"sdp"}}`,
			want: Method{OnError: OnErrorFail, Policy: PolicyOverwrite, RestOverwrite: []string{"name", "record"}, ClientExclude: []string{"sdp"}}},
		{name: "DISABLED is DISABLE", method: PlayStream, raw: `{"playStream":{"restPolicy":"DISABLED"}}`,
			want: Method{OnError: OnErrorLog, Policy: PolicyDisable}},
		{name: "unknown fields ignored", method: PlayStream, raw: `{"playStream":{"restPolicy":"DISABLE","colour":"red"}}`,
			want: Method{OnError: OnErrorLog, Policy: PolicyDisable}},
		{name: "wrong type ignores the entry", method: PublishStream, bad: true,
			raw: `{"publishStream":{"restOnError":"FAIL","restExclude":5},"playStream":{"restOnError":"FAIL"}}`, want: builtin},
		{name: "the other entries still apply", method: PlayStream, bad: true,
			raw: `{"publishStream":{"restExclude":5},"playStream":{"restOnError":"FAIL"}}`, want: Method{OnError: OnErrorFail, Policy: PolicyNotify}},
		{name: "unknown restPolicy", method: PublishStream, bad: true, raw: `{"publishStream":{"restPolicy":"MAYBE"}}`, want: builtin},
		{name: "unknown restOnError", method: PublishStream, bad: true, raw: `{"publishStream":{"restOnError":"PANIC"}}`, want: builtin},
		{name: "entry not an object", method: PublishStream, bad: true, raw: `{"publishStream":"FAIL"}`, want: builtin},
		{name: "not an object", method: PublishStream, bad: true, raw: `[1,2]`, want: builtin},
		{name: "not JSON", method: PublishStream, bad: true, raw: `{"publishStream":`, want: builtin},
		{name: "encoded twice", method: PublishStream, raw: `"{\"publishStream\":{\"restOnError\":\"FAIL\"}}"`,
			want: Method{OnError: OnErrorFail, Policy: PolicyNotify}},
		{name: "an alias as key", method: OnDataEvent, raw: `{"sendData":{"restOnError":"FAIL"}}`,
			want: Method{OnError: OnErrorFail, Policy: PolicyNotify}},
		{name: "app defaults", method: PublishStream,
			defaults: map[string]rest.MethodConfig{PublishStream: {RestOnError: "FAIL", RestExclude: "sdp"}},
			want:     Method{OnError: OnErrorFail, Policy: PolicyNotify, RestExclude: []string{"sdp"}}},
		{name: "the session over the app, field by field", method: PublishStream,
			defaults: map[string]rest.MethodConfig{PublishStream: {RestOnError: "FAIL", RestExclude: "sdp"}},
			raw:      `{"publishStream":{"restPolicy":"OVERWRITE","restOverwrite":"name"}}`,
			want:     Method{OnError: OnErrorFail, Policy: PolicyOverwrite, RestOverwrite: []string{"name"}, RestExclude: []string{"sdp"}}},
		{name: "an empty list clears the app's", method: PublishStream,
			defaults: map[string]rest.MethodConfig{PublishStream: {RestExclude: "sdp"}},
			raw:      `{"publishStream":{"restExclude":""}}`, want: builtin},
		{name: "a bad session entry leaves the app's", method: PublishStream, bad: true,
			defaults: map[string]rest.MethodConfig{PublishStream: {RestOnError: "FAIL"}},
			raw:      `{"publishStream":{"restOnError":"NEVER"}}`, want: Method{OnError: OnErrorFail, Policy: PolicyNotify}},
		{name: "a bad app default", method: PublishStream, bad: true,
			defaults: map[string]rest.MethodConfig{PublishStream: {RestPolicy: "SOMETIMES"}}, want: builtin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig(tc.defaults, json.RawMessage(tc.raw))
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want one: %v", err, tc.bad)
			}
			if err != nil && !errors.Is(err, ErrBadConfig) {
				t.Errorf("error %v does not wrap ErrBadConfig", err)
			}
			got := cfg.Method(tc.method)
			if got.OnError != tc.want.OnError || got.Policy != tc.want.Policy || !slices.Equal(got.RestExclude, tc.want.RestExclude) ||
				!slices.Equal(got.ClientExclude, tc.want.ClientExclude) || !slices.Equal(got.RestOverwrite, tc.want.RestOverwrite) {
				t.Errorf("Method(%s) = %+v, want %+v", tc.method, got, tc.want)
			}
		})
	}
}

func TestConfigHelpers(t *testing.T) {
	var none *Config
	if none.OnErrorFail(PublishStream) || none.Policy(PublishStream) != PolicyNotify || none.Overwritable(PublishStream, "name") {
		t.Error("a nil Config is not WCS's defaults")
	}
	cfg, err := ParseConfig(nil, json.RawMessage(`{"publishStream":{"restPolicy":"OVERWRITE","restOverwrite":"name","restOnError":"FAIL","restExclude":"sdp","clientExclude":"custom"},
		"playStream":{"restOverwrite":"name"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r, c := cfg.Excluded(PublishStream); !slices.Equal(r, []string{"sdp"}) || !slices.Equal(c, []string{"custom"}) {
		t.Errorf("Excluded = %v %v", r, c)
	}
	if !cfg.OnErrorFail(PublishStream) || cfg.OnErrorFail(PlayStream) {
		t.Error("OnErrorFail")
	}
	for _, tc := range []struct {
		method, field string
		want          bool
	}{
		{PublishStream, "name", true},
		{PublishStream, "record", false},
		{PlayStream, "name", false}, // restOverwrite without OVERWRITE
		{Connect, "custom", true}, {Connect, "sipLogin", true},
		{Connect, "nodeId", false}, {Connect, "sessionId", false}, {Connect, "appKey", false}, {Connect, "restClientConfig", false},
	} {
		if got := cfg.Overwritable(tc.method, tc.field); got != tc.want {
			t.Errorf("Overwritable(%s, %s) = %v, want %v", tc.method, tc.field, got, tc.want)
		}
	}
}

func TestStripClientKeepsTheOtherMembersAsTheyWere(t *testing.T) {
	cfg, _ := ParseConfig(nil, json.RawMessage(`{"StreamStatusEvent":{"clientExclude":"sdp,custom"}}`))
	in := []byte(`{"mediaSessionId":"m1", "sdp":"v=0\r\n","name":"s\u00e9","custom":{"a":[1,{"b":2}]},"info":null,"n":1.50}`)
	out, err := cfg.StripClient(StreamStatusEvent, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"mediaSessionId":"m1","name":"s\u00e9","info":null,"n":1.50}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
	if out, _ := cfg.StripClient(PublishStream, in); string(out) != string(in) {
		t.Error("a method without clientExclude changed the frame")
	}
	if out, _ := cfg.StripClient(StreamStatusEvent, []byte(`{"name":"x"}`)); string(out) != `{"name":"x"}` {
		t.Errorf("nothing to remove: %s", out)
	}
	for _, bad := range []string{`[1]`, `{"a":}`, `{"a":1} x`, ``, `{"a":1`} {
		if _, err := cfg.StripClient(StreamStatusEvent, []byte(bad)); !errors.Is(err, ErrBadObject) {
			t.Errorf("StripClient(%q): error %v, want ErrBadObject", bad, err)
		}
	}
}

func TestStripRestCopies(t *testing.T) {
	cfg, _ := ParseConfig(nil, json.RawMessage(`{"playStream":{"restExclude":"sdp"}}`))
	body := map[string]any{"sdp": "x", "name": "s"}
	out := cfg.StripRest(PlayStream, body)
	if _, ok := out["sdp"]; ok || out["name"] != "s" {
		t.Errorf("StripRest = %v", out)
	}
	if _, ok := body["sdp"]; !ok {
		t.Error("StripRest changed its argument")
	}
}
