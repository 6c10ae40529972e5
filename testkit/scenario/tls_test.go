package scenario

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/tlscert"
	"github.com/potok-media/potok/signal/session"
	"github.com/potok-media/potok/wasmclient"
)

// TestTLSListeners runs the all-in-one `potok` with its WCS TLS ports (README "TLS") and no
// certificate configured: it generates a self-signed one in its state directory and logs its
// fingerprint; a client trusting that certificate publishes over wss:// and plays over ws://, the
// REST port answers over https:// with the same mux (health, REST API, the lbUrl lookup naming the
// node's real ports); the admission limits set by flags hold. Restarted on the same directory it
// presents the same certificate.
func TestTLSListeners(t *testing.T) {
	bin := potokBinary(t)
	state := t.TempDir()
	args := []string{"--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--wss-listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--public-host", "potok.test",
		"--max-sessions-per-ip", "6", "--connection-deadline", "500ms",
		"--media-ip", "127.0.0.1", "--media-udp-port", "0", "--media-tcp-port", "0", "--media-loopback-only"}
	env := []string{"STATE_DIRECTORY=" + state}
	p := startProcessEnv(t, env, bin, "", args...)
	wsAddr, wssAddr := p.waitAddr(t, "websocket listening"), p.waitAddr(t, "wss listening")
	httpAddr, httpsAddr := p.waitAddr(t, "http listening"), p.waitAddr(t, "https listening")

	// The pair in the state directory, the key private, the fingerprint in the log.
	leaf := readCertFile(t, filepath.Join(state, tlscert.CertFileName))
	if st, err := os.Stat(filepath.Join(state, tlscert.KeyFileName)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", st, err)
	}
	fp := "SHA256:" + tlscert.Fingerprint(leaf.Raw)
	if got := p.logField(t, "generated a self-signed TLS certificate", "fingerprint"); got != fp {
		t.Errorf("logged fingerprint %q, want %q", got, fp)
	}
	client := trusting(leaf)

	// https: the HTTP port's mux.
	for _, path := range []string{"/health", "/rest-api/app/find_all", "/?action=stat"} {
		if code, body := get(t, client, "https://"+httpsAddr+path); code != http.StatusOK {
			t.Errorf("GET https %s: %d %s", path, code, body)
		}
	}
	_, wsPort, _ := net.SplitHostPort(wsAddr)
	_, wssPort, _ := net.SplitHostPort(wssAddr)
	_, lb := get(t, client, "https://"+httpsAddr+"/lb")
	if want := fmt.Sprintf(`{"server":"potok.test","ws":%s,"wss":%s,"flash":0}`, wsPort, wssPort); strings.TrimSpace(lb) != want {
		t.Errorf("/lb over https: %s, want %s", lb, want)
	}

	// wss: the WebSocket handler. Publish there, play through ws.
	wsURL, wssURL := "ws://"+wsAddr, "wss://"+wssAddr
	waitPublishable(t, wsURL, func() int { return int(scrapeGauge(t, "http://"+httpAddr+"/metrics", "potok_mediad_peer_connections")) })
	pubSess, err := wasmclient.Connect(ctx(t), wssURL, wasmclient.SessionOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("connect over wss: %v", err)
	}
	t.Cleanup(func() { _ = pubSess.Close() })
	name := streamName("tls")
	publishSynthetic(t, pubSess, name, wcs.StatusPublishing)
	player := play(t, connect(t, Target{WSURL: wsURL}), wasmclient.PlayOptions{Name: name}, wcs.StatusPlaying)
	waitReceived(t, player, func(rs wasmclient.ReceiveStats) bool { return rs.VideoPackets > 10 }, "video published over wss")
	if _, err := wasmclient.Connect(ctx(t), wssURL, wasmclient.SessionOptions{}); err == nil {
		t.Error("a client that does not trust the self-signed certificate connected")
	}

	admissionFlags(t, wsURL, wssURL, client)
	p.terminate(t)

	// The next start presents the same certificate.
	p2 := startProcessEnv(t, env, bin, "", args...)
	if got := p2.logField(t, "self-signed TLS certificate", "fingerprint"); got != fp {
		t.Errorf("after a restart the fingerprint is %q, want the first one %q", got, fp)
	}
	if code, body := get(t, client, "https://"+p2.waitAddr(t, "https listening")+"/health"); code != http.StatusOK {
		t.Errorf("https after a restart: %d %s", code, body)
	}
	p2.terminate(t)
}

// admissionFlags: the process holds two sessions (publisher, player) from 127.0.0.1 and its
// limit is 6; a silent socket is closed after the 500 ms deadline, the 7th is refused.
func admissionFlags(t *testing.T, wsURL, wssURL string, client *http.Client) {
	t.Helper()
	silent, _, err := websocket.Dial(ctx(t), wssURL, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = silent.Read(ctx(t))
	var ce websocket.CloseError
	if want := session.ConnectionDeadlineReason(500 * time.Millisecond); !errors.As(err, &ce) ||
		ce.Code != websocket.StatusPolicyViolation || ce.Reason != want {
		t.Errorf("silent socket: %v, want closed 1008 %q", err, want)
	}
	var open []*wasmclient.Session
	defer func() {
		for _, s := range open {
			_ = s.Close()
		}
	}()
	for len(open) < 4 {
		s, err := wasmclient.Connect(ctx(t), wsURL, wasmclient.SessionOptions{})
		if err != nil {
			t.Fatalf("session %d of 6: %v", len(open)+3, err)
		}
		open = append(open, s)
	}
	_, resp, err := websocket.Dial(ctx(t), wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("7th session from one IP: %v %v, want 503", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "the limit is 6") {
		t.Errorf("refusal body %q", body)
	}
}

func readCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// trusting is an HTTP client that trusts leaf (for 127.0.0.1, one of its SANs).
func trusting(leaf *x509.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// logField returns field of the log line whose message starts with message, logged before the
// listeners are.
func (p *process) logField(t *testing.T, message, field string) string {
	t.Helper()
	p.waitAddr(t, "http listening")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		if msg, _ := rec["message"].(string); strings.HasPrefix(msg, message) {
			v, _ := rec[field].(string)
			return v
		}
	}
	t.Fatalf("%s did not log %q before its listeners", p.name, message)
	return ""
}
