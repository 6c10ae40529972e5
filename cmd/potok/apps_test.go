package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/apps"
)

// fakeAppsAPI is the least of the REST API's /app endpoints potok apps needs: apps in a map,
// checked by apps.Normalize, behind admin:pw. The real server's test comes with the REST API.
func fakeAppsAPI(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	store := map[string]rest.App{}
	fail := func(w http.ResponseWriter, status int, reason string) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "reason": reason})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "admin" || p != "pw" {
			fail(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		b, _ := io.ReadAll(r.Body)
		var body rest.App // or /app/find's and /app/remove's rest.AppKey, the same field
		var methods rest.AppMethods
		if err := errors.Join(json.Unmarshal(b, &body), json.Unmarshal(b, &methods)); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		key := body.Key
		mu.Lock()
		defer mu.Unlock()
		app, exists := store[key]
		put := func(a rest.App) {
			n, err := apps.Normalize(a)
			if err != nil {
				fail(w, http.StatusBadRequest, err.Error())
				return
			}
			store[key] = n
		}
		switch strings.TrimPrefix(r.URL.Path, "/rest-api/app/") {
		case "find_all":
			list := []rest.App{}
			for _, k := range slices.Sorted(maps.Keys(store)) {
				list = append(list, store[k])
			}
			_ = json.NewEncoder(w).Encode(list)
		case "find":
			if !exists {
				fail(w, http.StatusNotFound, "app "+key+": not found")
				return
			}
			_ = json.NewEncoder(w).Encode(app)
		case "add":
			if exists {
				fail(w, http.StatusConflict, "app "+key+": already exists")
				return
			}
			put(body)
		case "update", "remove", "method/add", "method/remove":
			if !exists {
				fail(w, http.StatusNotFound, "app "+key+": not found")
				return
			}
			switch path := r.URL.Path; {
			case strings.HasSuffix(path, "update"):
				put(body)
			case strings.HasSuffix(path, "remove") && !strings.Contains(path, "method"):
				delete(store, key)
			default:
				m := methods.Methods
				if methods.All {
					m = apps.AllMethods()
				}
				if strings.HasSuffix(path, "add") {
					app.Methods = append(app.Methods, m...)
				} else {
					app.Methods = slices.DeleteFunc(app.Methods, func(x string) bool { return slices.Contains(m, x) })
				}
				put(app)
			}
		default:
			fail(w, http.StatusNotFound, "no such endpoint")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAppsCommand(t *testing.T) {
	srv := fakeAppsAPI(t)
	potok := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		code := run(append([]string{"apps", "--rest", srv.URL, "--user", "admin", "--password", "pw"}, args...), &out, &errs)
		if code != 0 {
			return out.String(), errors.New(strings.TrimSpace(errs.String()))
		}
		return out.String(), nil
	}
	steps := []struct {
		args []string
		says string // in the output, or in the error when fails
		fail bool
	}{
		{[]string{"add", "shop", "--url", "https://shop.example/hooks", "--methods", "connect, publishStream"}, "", false},
		{[]string{"add", "echo", "--url", rest.EchoURL, "--all-methods"}, "", false},
		{[]string{"add", "--url", "http://x/", "shop"}, "already exists (HTTP 409)", true},
		{[]string{"add", "bad", "--url", "ftp://x/"}, `url "ftp://x/"`, true},
		{[]string{"enable", "shop", "playStream", "sendData"}, "", false},
		{[]string{"show", "shop"}, "methods: OnDataEvent,connect,playStream,publishStream", false},
		{[]string{"disable", "shop", "connect"}, "", false},
		{[]string{"set-url", "shop", "http://new.example/"}, "", false},
		{[]string{"show", "shop", "--json"}, `"url": "http://new.example/"`, false},
		{[]string{"disable", "echo", "--all"}, "", false},
		{[]string{"list"}, "APPKEY  URL                   METHODS\necho    echo: (echo backend)  (none)\nshop    http://new.example/   OnDataEvent,playStream,publishStream\n", false},
		{[]string{"enable", "echo"}, "potok apps enable KEY --all", true},
		{[]string{"remove", "shop"}, "", false},
		{[]string{"show", "shop"}, "app shop: not found (HTTP 404)", true},
		{[]string{"remove", "shop"}, "HTTP 404", true},
		{[]string{"frob"}, `unknown command "frob"`, true},
	}
	for _, s := range steps {
		out, err := potok(s.args...)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err != nil) != s.fail || !strings.Contains(got, s.says) {
			t.Fatalf("potok apps %s: %q (error %v); want fail=%v saying %q", strings.Join(s.args, " "), out, err, s.fail, s.says)
		}
	}
	var list []rest.App
	out, err := potok("list", "--json")
	if err := errors.Join(err, json.Unmarshal([]byte(out), &list)); err != nil || len(list) != 1 || list[0].Key != "echo" {
		t.Fatalf("list --json: %v, %s", err, out)
	}
	var errs bytes.Buffer
	if code := run([]string{"apps", "--rest", srv.URL, "list"}, &errs, &errs); code == 0 || !strings.Contains(errs.String(), "--user and --password") {
		t.Errorf("without credentials: exit %d, %s", code, errs.String())
	}
	if code := run([]string{"apps", "--rest", "http://127.0.0.1:1", "list"}, &errs, &errs); code == 0 || !strings.Contains(errs.String(), "REST API at") {
		t.Errorf("no server: exit %d, %s", code, errs.String())
	}
}
