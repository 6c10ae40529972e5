package apps

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/potok-media/potok/api/rest"
)

func TestNormalize(t *testing.T) {
	ok := []struct {
		app     rest.App
		methods []string
	}{
		{rest.App{Key: "a"}, []string{}},
		{rest.App{Key: "my-App_1.2", URL: "https://h:8443/p?q=1"}, []string{}},
		{rest.App{Key: strings.Repeat("k", MaxKeyLen), URL: rest.EchoURL}, []string{}},
		{rest.App{Key: "a", URL: "http://h", Methods: []string{"sendDtmf", "sendData", "OnDataEvent", "connect"}},
			[]string{"OnDataEvent", "connect", "sendDTMF"}},
	}
	for _, tc := range ok {
		got, err := Normalize(tc.app)
		if err != nil || !slices.Equal(got.Methods, tc.methods) {
			t.Errorf("Normalize(%+v) = %v, %v; want methods %v", tc.app, got.Methods, err, tc.methods)
		}
	}
	got, err := Normalize(rest.App{Key: "a", Defaults: map[string]rest.MethodConfig{"sendData": {RestOnError: "FAIL", RestPolicy: "DISABLED"}}})
	if _, has := got.Defaults["OnDataEvent"]; err != nil || !has {
		t.Errorf("defaults alias not resolved: %+v, %v", got.Defaults, err)
	}
	bad := []struct {
		app  rest.App
		says string
	}{
		{rest.App{}, "appKey is empty"},
		{rest.App{Key: strings.Repeat("k", MaxKeyLen+1)}, "at most 128"},
		{rest.App{Key: "a b"}, "only letters"},
		{rest.App{Key: "é"}, "only letters"},
		{rest.App{Key: ".a"}, "'.'"},
		{rest.App{Key: "a..b"}, "'.'"},
		{rest.App{Key: "a", URL: "/relative"}, "absolute http"},
		{rest.App{Key: "a", URL: "ftp://h/"}, "absolute http"},
		{rest.App{Key: "a", URL: "http://"}, "absolute http"},
		{rest.App{Key: "a", Methods: []string{"Connect"}}, `unknown hook method "Connect"`},
		{rest.App{Key: "a", Defaults: map[string]rest.MethodConfig{"nope": {}}}, `unknown hook method "nope"`},
		{rest.App{Key: "a", Defaults: map[string]rest.MethodConfig{"connect": {RestOnError: "IGNORE"}}}, "restOnError"},
		{rest.App{Key: "a", Defaults: map[string]rest.MethodConfig{"connect": {RestPolicy: "MAYBE"}}}, "restPolicy"},
	}
	for _, tc := range bad {
		_, err := Normalize(tc.app)
		if !errors.Is(err, rest.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Normalize(%+v) = %v; want ErrInvalid saying %q", tc.app, err, tc.says)
		}
	}
}
