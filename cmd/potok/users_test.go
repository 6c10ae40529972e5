package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/potok-media/potok/signal/restauth"
)

// potok users, end to end on a file: what it writes, restauth (the server's side) accepts.
func TestUsersCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rest-users.json")
	users := func(stdin string, args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := usersCommand(append(args, "--file", file), strings.NewReader(stdin), &out, &errs)
		return out.String() + errs.String(), err
	}
	if out, err := users("s3cret\n", "add", "alice", "--password-stdin"); err != nil || !strings.Contains(out, "alice saved") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	if _, err := users("x\n", "add", "bob"); err != nil { // piped stdin, no flag: read all the same
		t.Fatalf("add from a pipe: %v", err)
	}
	if out, err := users("", "list"); err != nil || out != "alice\nbob\n" {
		t.Fatalf("list: %q, %v", out, err)
	}
	if _, err := users("other\n", "add", "alice"); err == nil || !strings.Contains(err.Error(), "potok users passwd alice") {
		t.Errorf("add of an existing user: %v, want advice to use passwd", err)
	}
	if _, err := users("n3w\r\n", "--password-stdin", "passwd", "alice"); err != nil {
		t.Fatalf("passwd: %v", err)
	}
	u, err := restauth.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Check("alice", "n3w") || u.Check("alice", "s3cret") || !u.Check("bob", "x") {
		t.Error("the server does not see the passwords potok users set")
	}
	if _, err := users("", "remove", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := users("", "remove", "bob"); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("remove twice: %v", err)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		says  string
	}{
		{"", []string{"add", "carol"}, "no password on stdin"},
		{"pw\n", []string{"add", "a:b"}, "':'"},
		{"", []string{"add"}, "1 argument(s) expected"},
		{"", []string{"frob"}, `unknown command "frob"`},
		{"", nil, "a command is needed"},
	} {
		if _, err := users(tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("users %q: %v, want it to say %q", tc.args, err, tc.says)
		}
	}
	// Through the binary's dispatch.
	var out bytes.Buffer
	if code := run([]string{"users", "list", "--file", file}, &out, &out); code != 0 || out.String() != "alice\n" {
		t.Errorf("potok users list: exit %d, %q", code, out.String())
	}
}
