package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreWCS(t *testing.T) {
	c, err := Load("potok", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Signal.WSListen != "0.0.0.0:8080" || c.Signal.HTTPListen != "0.0.0.0:8081" {
		t.Errorf("ports: ws %s http %s, want WCS 8080/8081", c.Signal.WSListen, c.Signal.HTTPListen)
	}
	if c.Signal.PingInterval != 5*time.Second || c.Signal.MissedPongs != 10 {
		t.Errorf("keep-alive: %s x%d, want 5s x10", c.Signal.PingInterval, c.Signal.MissedPongs)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "potok.yaml")
	yml := "signal:\n  wsListen: 127.0.0.1:9000\n  pingInterval: 2s\nmediad:\n  udpPort: 40000\n  publicIps: [203.0.113.7]\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POTOK_MEDIA_UDP_PORT", "40001")
	t.Setenv("POTOK_PING_INTERVAL", "3s")
	c, err := Load("potok", []string{"--config", path, "--ping-interval", "4s", "--public-ips", "198.51.100.1, 198.51.100.2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Signal.WSListen != "127.0.0.1:9000" {
		t.Errorf("file value lost: %s", c.Signal.WSListen)
	}
	if c.Mediad.UDPPort != 40001 {
		t.Errorf("env should override file: udp %d", c.Mediad.UDPPort)
	}
	if c.Signal.PingInterval != 4*time.Second {
		t.Errorf("flag should override env: %s", c.Signal.PingInterval)
	}
	if strings.Join(c.Mediad.PublicIPs, "|") != "198.51.100.1|198.51.100.2" {
		t.Errorf("public ips: %q", c.Mediad.PublicIPs)
	}
}

func TestErrorsAreClear(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("signal:\n  wsListn: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown yaml key", []string{"--config", bad}, nil, "wsListn"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "no such file"},
		{"bad env", nil, map[string]string{"POTOK_MEDIA_UDP_PORT": "many"}, "POTOK_MEDIA_UDP_PORT"},
		{"bad range", []string{"--media-udp-port", "70000"}, nil, "out of range"},
		{"bad flag", []string{"--no-such-flag"}, nil, "no-such-flag"},
		{"extra args", []string{"stray"}, nil, "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load("potok", tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestNATSAuthSettings(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "potok.creds")
	if err := os.WriteFile(creds, []byte("creds"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POTOK_NATS_PASSWORD", "s3cret")
	c, err := Load("potok mediad", []string{"--nats", "tls://nats.example:4222", "--nats-user", "mediad",
		"--nats-tls-ca", creds}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.User != "mediad" || c.NATS.Password != "s3cret" || c.NATS.TLSCA != creds {
		t.Errorf("loaded %+v", c.NATS)
	}
	missing := filepath.Join(dir, "none.creds")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"creds file missing", []string{"--nats", "nats://h:4222", "--nats-creds", missing}, "--nats-creds: stat " + missing + ": no such file"},
		{"two methods", []string{"--nats", "nats://h:4222", "--nats-token", "t", "--nats-creds", creds}, "more than one NATS authentication method: --nats-token, --nats-creds"},
		{"url and user", []string{"--nats", "nats://u:p@h:4222", "--nats-user", "u", "--nats-password", "p"}, "the --nats URL carries credentials"},
		{"user without password", []string{"--nats", "nats://h:4222", "--nats-user", "u"}, "go together"},
		{"cert without key", []string{"--nats", "nats://h:4222", "--nats-tls-cert", creds}, "--nats-tls-cert and --nats-tls-key go together"},
		{"client auth on the embedded server", []string{"--nats-token", "t"}, "--nats-token is for an external NATS"},
		{"listen TLS without listen", []string{"--nats-listen-tls-cert", creds, "--nats-listen-tls-key", creds}, "is for the embedded server exposed with --nats-listen"},
		{"listen CA without cert", []string{"--nats-listen", "127.0.0.1:4222", "--nats-listen-tls-ca", creds}, "needs --nats-listen-tls-cert"},
		{"directory as a file", []string{"--nats", "nats://h:4222", "--nats-nkey-seed", dir}, "is a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("POTOK_NATS_PASSWORD", "")
			os.Unsetenv("POTOK_NATS_PASSWORD")
			_, err := Load("potok", tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestDefaultCredentialsPath(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		getenv func(string) string
		want   string
	}{
		{env("STATE_DIRECTORY", "/var/lib/potok:/var/lib/other", "HOME", "/home/u"), "/var/lib/potok/nats-credentials.json"},
		{env("XDG_STATE_HOME", "/x/state", "HOME", "/home/u"), "/x/state/potok/nats-credentials.json"},
		{env("XDG_STATE_HOME", "relative", "HOME", "/home/u"), "/home/u/.local/state/potok/nats-credentials.json"},
		{env(), "potok-nats-credentials.json"},
	}
	for _, tc := range cases {
		if got := DefaultCredentialsPath(tc.getenv); got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
	}
}
