package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"version"}, 0, "WCS protocol"},
		{[]string{"help"}, 0, "potok signal"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"signal"}, 1, "needs --nats"},
		{[]string{"mediad"}, 1, "needs --nats"},
		{[]string{"--media-udp-port", "99999"}, 1, "out of range"},
		{[]string{"signal", "-h"}, 0, "-ws-listen"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := run(tc.args, &out, &out)
			if code != tc.code || !strings.Contains(out.String(), tc.contains) {
				t.Fatalf("exit %d (want %d), output:\n%s\nwant it to contain %q", code, tc.code, out.String(), tc.contains)
			}
		})
	}
}

// An exposed embedded server will not start on a credentials file that others may read: its
// passwords must be assumed known.
func TestReadableCredentialsFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nats-credentials.json")
	if err := os.WriteFile(path, []byte(`{"signal":{"user":"signal","password":"a"},"mediad":{"user":"mediad","password":"b"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run([]string{"--nats-listen", "127.0.0.1:0", "--nats-listen-credentials", path, "--ws-listen", "127.0.0.1:0",
		"--http-listen", "127.0.0.1:0", "--wss-listen", "", "--https-listen", "", "--media-udp-port", "0", "--media-tcp-port", "0"}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "chmod 600") {
		t.Fatalf("exit %d, output:\n%s\nwant exit 1 and the chmod advice", code, out.String())
	}
}
