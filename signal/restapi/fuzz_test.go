package restapi

import (
	"net/http"
	"testing"
)

// Fuzz targets, one per decoder family (scripts/fuzz.sh runs every Fuzz* function). Each decodes
// the input directly and through every endpoint of the family: nothing may panic, a body the
// decoder refuses must be answered 400 with a JSON error, and no input may yield a 500 (the fake
// Backend never fails, so a 500 could only come from the HTTP layer).

func FuzzStreamFilter(f *testing.F) {
	seed(f, `{"name":"s","published":"true","display":["metrics"],"mediaSessionIds":["a"]}`,
		`{"published":"yes"}`, `{"mediaSessionIds":"a"}`, `{"display":{}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeStreamFilter(body)
		checkFamily(t, body, err, "/stream/find", "/stream/terminate")
	})
}

func FuzzConnectionFilter(f *testing.F) {
	seed(f, `{"appKey":"defaultApp","sessionId":"s","clientVersion":"2.0"}`, `{"appKey":1}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeConnectionFilter(body)
		checkFamily(t, body, err, "/connection/find")
	})
}

func FuzzDecodeMessage(f *testing.F) {
	seed(f, `{"sessionId":"s","payload":{"a":1},"operationId":"o"}`, `{"streamName":"s","payload":[1]}`,
		`{"sessionId":"s","streamName":"n","payload":"x"}`, `{"payload":`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeDataSend(body)
		checkFamily(t, body, err, "/data/send")
		_, err = decodeStreamEvent(body)
		checkFamily(t, body, err, "/stream/event/send")
	})
}

func FuzzDecodeClientLog(f *testing.F) {
	seed(f, `{"sessionId":"s","logLevel":"DEBUG"}`, `{"sessionId":"s"}`, `{"sessionId":true}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeClientLog(body)
		checkFamily(t, body, err, "/logger/enable_client_log", "/connection/set_log_level")
		_, err = decodeSessionID(body)
		checkFamily(t, body, err, "/logger/disable_client_log", "/connection/terminate")
	})
}

func FuzzDecodeApp(f *testing.F) {
	seed(f, `{"appKey":"defaultApp","url":"http://x/","methods":["connect","sendDtmf"],"defaults":{"connect":{"restPolicy":"NOTIFY"}}}`,
		`{"appKey":"a","methods":"connect"}`, `{"appKey":"a","defaults":[]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeApp(body)
		checkFamily(t, body, err, "/app/add", "/app/update")
	})
}

func FuzzDecodeAppKey(f *testing.F) {
	seed(f, `{"appKey":"defaultApp"}`, `{"appKey":"defaultApp","all":"TRUE"}`,
		`{"appKey":"defaultApp","methods":["connect"]}`, `{"appKey":null}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := decodeAppKey(body)
		checkFamily(t, body, err, "/app/find", "/app/remove")
		_, err = decodeAppMethods(body, false)
		checkFamily(t, body, err, "/app/method/add")
		_, err = decodeAppMethods(body, true)
		checkFamily(t, body, err, "/app/method/remove")
	})
}

func seed(f *testing.F, bodies ...string) {
	for _, b := range append(bodies, ``, `{}`, `null`, `[]`, `{"a":`, "\xff") {
		f.Add([]byte(b))
	}
}

// checkFamily posts body to each path and checks the answer against the decoder's verdict.
func checkFamily(t *testing.T, body []byte, decodeErr error, paths ...string) {
	t.Helper()
	for _, path := range paths {
		mux := newMux(t, Options{Backend: newFakeBackend()})
		a := do(t, mux, "POST", Prefix+path[1:], string(body))
		switch {
		case a.code >= http.StatusInternalServerError:
			t.Fatalf("%s %q: got %d %s", path, body, a.code, a.body)
		case decodeErr != nil && a.code != http.StatusBadRequest:
			t.Fatalf("%s %q: decoder refused it (%v) but the answer is %d", path, body, decodeErr, a.code)
		case decodeErr == nil && a.code == http.StatusBadRequest:
			t.Fatalf("%s %q: decoder took it but the answer is 400 %s", path, body, a.body)
		case a.code != http.StatusOK:
			errorOf(t, a)
		}
	}
}
