package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/potok-media/potok/internal/config"
	"github.com/potok-media/potok/signal/restauth"
)

const usersUsage = `potok users — the REST API users of production mode (--rest-auth)

Usage:
  potok users add NAME [--password-stdin]      add a user
  potok users passwd NAME [--password-stdin]   change a user's password (adding the user if needed)
  potok users remove NAME                      remove a user
  potok users list                             list the users

The password is asked for without echo when stdin is a terminal; otherwise (and with
--password-stdin) it is the first line of stdin. The file (mode 0600) holds bcrypt hashes; a
running server sees changes within a second.

Flags:
`

// usersCommand manages the users file of signal/restauth.
func usersCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newCLIFlags("potok users", usersUsage, stderr)
	file := fs.String("file", envOr("POTOK_REST_USERS_FILE", config.Defaults().Signal.REST.UsersPath()),
		"the users file (env POTOK_REST_USERS_FILE; the server's --rest-users-file)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin, without a prompt")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("users: a command is needed: add, passwd, remove or list")
	}
	cmd, pos := pos[0], pos[1:]
	wantArgs := map[string]int{"add": 1, "passwd": 1, "remove": 1, "list": 0}
	n, known := wantArgs[cmd]
	if !known {
		fs.Usage()
		return fmt.Errorf("users: unknown command %q", cmd)
	}
	if len(pos) != n {
		return fmt.Errorf("users %s: %d argument(s) expected, got %q", cmd, n, pos)
	}
	users, err := restauth.Load(*file)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		for _, name := range users.List() {
			fmt.Fprintln(stdout, name)
		}
		return nil
	case "remove":
		if err := users.Remove(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "user %s removed from %s\n", pos[0], *file)
		return nil
	}
	name := pos[0]
	if cmd == "add" && slices.Contains(users.List(), name) {
		return fmt.Errorf("users add: %s exists already in %s (potok users passwd %s changes the password)", name, *file, name)
	}
	password, err := readPassword(stdin, stderr, *fromStdin)
	if err != nil {
		return err
	}
	if cmd == "add" {
		err = users.Add(name, password)
	} else {
		err = users.Set(name, password)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "user %s saved in %s\n", name, *file)
	return nil
}

// readPassword prompts twice without echo on a terminal, or reads stdin's first line.
func readPassword(stdin io.Reader, prompt io.Writer, fromStdin bool) (string, error) {
	if f, ok := stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("users: read password: %w", err)
		}
		fmt.Fprint(prompt, "Password again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("users: read password: %w", err)
		}
		if string(p1) != string(p2) {
			return "", errors.New("users: the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("users: no password on stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
