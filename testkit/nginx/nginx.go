// Package nginx runs Debian's nginx in front of Potok's signal nodes for tests, with the shipped
// deploy/nginx/potok.conf (README "Load-balanced deployment"): an unprivileged foreground process
// on free loopback ports whose prefix (pid, logs, temp files) is a temporary directory. Only the
// site part that potok.conf includes, potok.d/ (the upstream servers and the listen addresses), is
// the test's. testkit/scenario (TestDeployLoadBalanced) and e2e (TestWebSDKThroughNginx) use it.
package nginx

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/testwait"
)

// Options say what nginx proxies to.
type Options struct {
	// Deploy is the repository's deploy/ directory (DeployDir finds it).
	Deploy string
	// WS and HTTP are the signal nodes' WebSocket and REST listeners (host:port): the servers
	// of upstream potok_ws and potok_rest.
	WS, HTTP []string
	// ReadyPath is GET through nginx's REST port until it answers 200: nginx is up and a node
	// answers behind it. "" means /health (the potok processes); an in-process cluster serves
	// /lb but not /health.
	ReadyPath string
	// ReadyTimeout bounds the wait for ReadyPath (0 = 20 s).
	ReadyTimeout time.Duration
}

// Proc is a running nginx. It stops in t.Cleanup if Stop was not called.
type Proc struct {
	// WS is ws://127.0.0.1:port (potok.conf's first server), HTTP http://127.0.0.1:port (its
	// second: REST, /health, /ready, /lb).
	WS, HTTP string

	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Start runs nginx with o until the test ends; it returns once o.ReadyPath answers through it.
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	bin := Binary(t)
	if o.ReadyPath == "" {
		o.ReadyPath = "/health"
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 20 * time.Second
	}
	conf := filepath.Join(o.Deploy, "nginx", "potok.conf")
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("nginx: the shipped configuration: %v", err)
	}
	prefix := t.TempDir()
	// The workers run as nobody when the test is root: they must reach the temp paths.
	if err := os.Chmod(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 2)
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(prefix, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ups strings.Builder
	ups.WriteString("upstream potok_ws {\n    least_conn;\n")
	for _, a := range o.WS {
		fmt.Fprintf(&ups, "    server %s max_fails=2 fail_timeout=10s;\n", a)
	}
	ups.WriteString("}\nupstream potok_rest {\n")
	for _, a := range o.HTTP {
		fmt.Fprintf(&ups, "    server %s max_fails=2 fail_timeout=10s;\n", a)
	}
	ups.WriteString("    keepalive 4;\n}\n")
	write("potok.d/upstreams.conf", ups.String())
	write("potok.d/listen-ws.conf", fmt.Sprintf("listen 127.0.0.1:%d;\n", ports[0]))
	write("potok.d/listen-http.conf", fmt.Sprintf("listen 127.0.0.1:%d;\n", ports[1]))
	write("nginx.conf", fmt.Sprintf(`worker_processes 1;
worker_shutdown_timeout 5s;
pid nginx.pid;
error_log stderr notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    include %s;
}
`, conf))
	if err := os.MkdirAll(filepath.Join(prefix, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := &Proc{done: make(chan struct{}), out: &syncBuffer{},
		WS: fmt.Sprintf("ws://127.0.0.1:%d", ports[0]), HTTP: fmt.Sprintf("http://127.0.0.1:%d", ports[1])}
	// -e stderr: the compiled-in error log (/var/log/nginx) is never opened.
	n.cmd = exec.Command(bin, "-p", prefix+"/", "-c", filepath.Join(prefix, "nginx.conf"), "-e", "stderr",
		"-g", "daemon off;")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			<-n.done
		}
		if t.Failed() {
			t.Logf("nginx output (last 4 kB):\n%s", lastBytes(n.out.String(), 4096))
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	testwait.UntilOK(t, o.ReadyTimeout, "nginx to proxy "+o.ReadyPath, func() error {
		select {
		case <-n.done:
			t.Fatalf("nginx exited: %v\n%s", n.cmd.ProcessState, n.out.String())
		default:
		}
		resp, err := client.Get(n.HTTP + o.ReadyPath)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s through nginx: %s", o.ReadyPath, resp.Status)
		}
		return nil
	})
	return n
}

// Stop ends nginx with SIGTERM (fast shutdown: open WebSockets are closed) within 10 s.
func (n *Proc) Stop(t testing.TB) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Errorf("nginx still running 10 s after SIGTERM:\n%s", lastBytes(n.out.String(), 4096))
	}
}

// Output is what nginx wrote so far (its error log goes to stderr).
func (n *Proc) Output() string { return n.out.String() }

// Binary is Debian's nginx (in /usr/sbin, which a non-root PATH may lack). Without it the test
// fails under POTOK_E2E (make test, CI) and is skipped otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("POTOK_E2E") != "" {
		t.Fatal("nginx is required (scripts/deps.sh installs it)")
	}
	t.Skip("nginx not installed; run scripts/deps.sh")
	return ""
}

// DeployDir finds the repository's deploy/ directory from the test's working directory (a
// package directory inside the repository) upwards.
func DeployDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		d := filepath.Join(dir, "deploy")
		if _, err := os.Stat(filepath.Join(d, "nginx", "potok.conf")); err == nil {
			return d
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("deploy/nginx/potok.conf not found above the working directory")
		}
		dir = parent
	}
}

// freePorts returns n distinct free loopback TCP ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
