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
