package restapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// sdkHeaderRE is the header pattern of the WebSDK's stat.poll (rest-module.js).
var sdkHeaderRE = regexp.MustCompile(`-+([A-z]+) *`)

// pollLikeTheSDK parses the page the way stat.poll does: split on "\n"; a line starting with "-"
// opens the group its pattern reads, lower-cased; any other line is split on "=" and its first
// two parts are a key and value of the current group (a group must be open, or the SDK throws).
func pollLikeTheSDK(t *testing.T, page string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	current := ""
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "-") {
			m := sdkHeaderRE.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("the SDK throws on header %q", line)
			}
			current = strings.ToLower(m[1])
			out[current] = map[string]string{}
			continue
		}
		if out[current] == nil {
			t.Fatalf("the SDK throws on %q: no group open", line)
		}
		pair := strings.Split(line, "=")
		if len(pair) < 2 {
			t.Errorf("line %q has no value: the SDK stores undefined", line)
			continue
		}
		out[current][pair[0]] = pair[1]
	}
	return out
}

func TestStatPageParsesInTheSDK(t *testing.T) {
	b := newFakeBackend()
	b.stats = map[string]map[string]any{
		"connection": {"connections": 2, "connections_websocket": int64(2)},
		"streams":    {"streams_rate": 1.5e6, "streams_names": "a,b", "up": true},
		"Native":     {"bad=key": "line\nbreak", "nothing": nil, "list": []int{1, 2}},
	}
	a := do(t, newMux(t, Options{Backend: b}), "GET", "/?action=stat&preventCache=Mon%20Jan%2001", "")
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("got %d %q %s", a.code, a.header.Get("Content-Type"), a.body)
	}
	want := map[string]map[string]string{
		"connection": {"connections": "2", "connections_websocket": "2"},
		"streams":    {"streams_rate": "1500000", "streams_names": "a,b", "up": "true"},
		"native":     {"bad_key": "line break", "nothing": "", "list": "[1,2]"},
	}
	if got := pollLikeTheSDK(t, string(a.body)); !reflect.DeepEqual(got, want) {
		t.Errorf("the SDK reads %v, want %v\npage:\n%s", got, want, a.body)
	}
	if !strings.HasPrefix(string(a.body), "-----Native\n") || strings.HasSuffix(string(a.body), "\n") {
		t.Errorf("page %q: want sorted groups, no final newline", a.body)
	}
}

func TestStatPageJSONAndGroups(t *testing.T) {
	b := newFakeBackend()
	mux := newMux(t, Options{Backend: b})
	a := do(t, mux, "GET", "/?action=stat&format=json&groups=STREAMS,%20nothing", "")
	var got map[string]map[string]any
	if err := json.Unmarshal(a.body, &got); err != nil || a.code != 200 {
		t.Fatalf("got %d %s: %v", a.code, a.body, err)
	}
	if want := map[string]map[string]any{"streams": {"streams_published": 1.0, "streams_rate": 1.5e6}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	a = do(t, mux, "GET", "/?action=stat&groups=connection", "")
	if string(a.body) != "-----connection\nconnections=2\nconnections_websocket=2" {
		t.Errorf("text with groups: %q", a.body)
	}
}

func TestStatPageErrors(t *testing.T) {
	b := newFakeBackend()
	b.err = errors.New("nats: no responders")
	a := do(t, newMux(t, Options{Backend: b}), "GET", "/?action=stat", "")
	if a.code != http.StatusInternalServerError || errorOf(t, a) != "nats: no responders" {
		t.Errorf("got %d %s", a.code, a.body)
	}
	b = newFakeBackend()
	if a := do(t, newMux(t, Options{Backend: b}), "PUT", "/?action=stat", ""); a.code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: got %d", a.code)
	}
}
