// Package sipfix runs the SIP side of Potok's tests on loopback: Debian's kamailio as registrar
// and proxy (kamailio.cfg here, with digest authentication when asked) and sipp scenarios as the
// phones (sipp/*.xml here). Each process is a foreground child of the test, on free ports, stopped
// in t.Cleanup. signal/sipua, testkit/scenario and e2e use it.
package sipfix

import (
	"bytes"
	_ "embed"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/testwait"
)

//go:embed kamailio.cfg
var kamailioCfg []byte

// Accounts are the registrar's users and passwords.
var Accounts = map[string]string{"alice": "alicepw", "bob": "bobpw", "carol": "carolpw", "uas": "uaspw",
	"3000": "1234", "3001": "1234"}

// Registrar is a running kamailio.
type Registrar struct {
	Addr string // 127.0.0.1:port, UDP and TCP
	Port int
	p    *proc
}

// Kamailio starts the registrar on a free port; auth switches digest authentication on
// (REGISTER 401, and 407 for requests whose From user has an account).
func Kamailio(t testing.TB, auth bool) *Registrar {
	t.Helper()
	return KamailioOn(t, auth, FreePort(t))
}

// KamailioOn starts the registrar on port (the WebSDK's SIP suite expects 5060: its accounts have
// no port).
func KamailioOn(t testing.TB, auth bool, port int) *Registrar {
	t.Helper()
	bin := binary(t, "kamailio", "/usr/sbin/kamailio")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, kamailioCfg, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", cfg, "-DD", "-E", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-w", dir,
		"-m", "32", "-M", "4", "-A", "SIP_PORT=" + strconv.Itoa(port)}
	if auth {
		args = append(args, "-A", "AUTH")
	}
	r := &Registrar{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port}
	r.p = start(t, "kamailio", bin, dir, args...)
	testwait.UntilOK(t, 15*time.Second, "kamailio answering OPTIONS", func() error {
		if r.p.exited() {
			t.Fatalf("kamailio exited:\n%s", r.p.tail())
		}
		return options(r.Addr)
	})
	return r
}

// options sends one OPTIONS over UDP and waits briefly for any answer.
func options(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	local := c.LocalAddr().String()
	msg := "OPTIONS sip:" + addr + " SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + strconv.FormatInt(time.Now().UnixNano(), 36) +
		"\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:" + addr + ">\r\nCall-ID: probe-" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 ")) {
		return errors.New("not a SIP answer")
	}
	return nil
}

// Tail is the registrar's recent output (for failure messages).
func (r *Registrar) Tail() string { return r.p.tail() }

// FreePort is a port free for both UDP and TCP on 127.0.0.1 (free when checked).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		_ = ln.Close()
		if err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return 0
}

func binary(t testing.TB, name, fallback string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	if os.Getenv("POTOK_E2E") != "" {
		t.Fatalf("%s is required (scripts/deps.sh installs it)", name)
	}
	t.Skipf("%s not installed; run scripts/deps.sh", name)
	return ""
}

// proc is a child process with its output kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *buffer
	done chan struct{}
	err  error
}

func start(t testing.TB, name, bin, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // kamailio's workers go with it
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and waits (SIGKILL after 10 s).
func (p *proc) stop(t testing.TB) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		t.Logf("%s did not stop on SIGTERM:\n%s", p.name, p.tail())
	}
}

func (p *proc) tail() string {
	s := p.out.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// Binary is the path of a SIP tool the tests run themselves (sipsak, svmap): the test is skipped
// when it is missing, unless POTOK_E2E asks for everything.
func Binary(t testing.TB, name, fallback string) string {
	t.Helper()
	return binary(t, name, fallback)
}
