package sipfix

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

//go:embed sipp/*.xml
var scenarios embed.FS

// SippOptions describe one sipp run.
type SippOptions struct {
	Scenario string            // a file of sipp/ without .xml: "uas", "uas_busy", "uac"
	Remote   string            // host:port to send to (UAC); "" for a UAS
	Service  string            // -s: the user called
	Keys     map[string]string // -key name value
	RTPEcho  bool              // -rtp_echo: send back the RTP received
	Calls    int               // -m (0 = 1)
	Duration time.Duration     // -d: how long a UAC keeps its call (0 = 1 s)
	Limit    int               // -l: calls at once (0 = sipp's default)
	Timeout  time.Duration     // -timeout: the whole run's limit (0 = 60 s)
}

// Sipp is a running sipp.
type Sipp struct {
	Port      int // its SIP port (UDP)
	MediaPort int // its RTP port
	p         *proc
}

// StartSipp runs sipp with o until it exits or the test ends.
func StartSipp(t testing.TB, o SippOptions) *Sipp {
	t.Helper()
	bin := binary(t, "sipp", "/usr/bin/sipp")
	dir := t.TempDir()
	body, err := scenarios.ReadFile("sipp/" + o.Scenario + ".xml")
	if err != nil {
		t.Fatalf("sipp scenario %q: %v", o.Scenario, err)
	}
	sf := filepath.Join(dir, o.Scenario+".xml")
	if err := os.WriteFile(sf, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if o.Calls == 0 {
		o.Calls = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	s := &Sipp{Port: FreePort(t), MediaPort: FreePort(t)}
	var args []string
	if o.Remote != "" {
		args = append(args, o.Remote)
	}
	args = append(args, "-sf", sf, "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", strconv.Itoa(s.Port),
		"-mp", strconv.Itoa(s.MediaPort), "-m", strconv.Itoa(o.Calls), "-nostdin", "-timeout", strconv.Itoa(int(o.Timeout/time.Second))+"s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"), "-trace_msg", "-message_file", filepath.Join(dir, "messages.log"))
	if o.Duration > 0 {
		args = append(args, "-d", strconv.Itoa(int(o.Duration/time.Millisecond)))
	}
	if o.Limit > 0 {
		args = append(args, "-l", strconv.Itoa(o.Limit))
	}
	if o.Service != "" {
		args = append(args, "-s", o.Service)
	}
	for k, v := range o.Keys {
		args = append(args, "-key", k, v)
	}
	if o.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	s.p = start(t, "sipp "+o.Scenario, bin, dir, args...)
	return s
}

// Wait waits for sipp to exit and returns nil when every call succeeded (exit 0).
func (s *Sipp) Wait(timeout time.Duration) error {
	select {
	case <-s.p.done:
	case <-time.After(timeout):
		return fmt.Errorf("sipp still running after %v", timeout)
	}
	if s.p.err != nil {
		return fmt.Errorf("sipp: %v\n%s\n%s", s.p.err, s.p.tail(), s.Messages())
	}
	return nil
}

// Exited reports whether sipp has ended.
func (s *Sipp) Exited() bool { return s.p.exited() }

// Addr is sipp's SIP address.
func (s *Sipp) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Messages is sipp's message trace (what it sent and received).
func (s *Sipp) Messages() string {
	b, _ := os.ReadFile(filepath.Join(s.p.cmd.Dir, "messages.log"))
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// Received reports whether sipp's trace has s (a request or status line it got or sent).
func (s *Sipp) Received(sub string) bool {
	b, _ := os.ReadFile(filepath.Join(s.p.cmd.Dir, "messages.log"))
	return bytesContains(b, sub)
}
