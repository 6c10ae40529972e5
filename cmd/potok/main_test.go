package main

import (
	"bytes"
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
