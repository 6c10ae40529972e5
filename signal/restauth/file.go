package restauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// fileFormat is the users file: {"users":[{"name":"admin","bcrypt":"$2a$10$…"}]}, sorted by name.
type fileFormat struct {
	Users []fileUser `json:"users"`
}

type fileUser struct {
	Name   string `json:"name"`
	Bcrypt string `json:"bcrypt"`
}

// readFile reads and checks the users file; a missing one is empty.
func readFile(path string) (map[string][]byte, fileStamp, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]byte{}, fileStamp{}, nil
	}
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("restauth: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("restauth: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fileStamp{}, fmt.Errorf("restauth: %s is readable by others (mode %v): its password hashes could be attacked offline; chmod 600 %s", path, st.Mode().Perm(), path)
	}
	var ff fileFormat
	if err := json.NewDecoder(f).Decode(&ff); err != nil {
		return nil, fileStamp{}, fmt.Errorf("restauth: %s: %w", path, err)
	}
	hashes := make(map[string][]byte, len(ff.Users))
	for _, fu := range ff.Users {
		if _, err := bcrypt.Cost([]byte(fu.Bcrypt)); err != nil {
			return nil, fileStamp{}, fmt.Errorf("restauth: %s: user %q: not a bcrypt hash: %w", path, fu.Name, err)
		}
		if err := checkName(fu.Name); err != nil {
			return nil, fileStamp{}, fmt.Errorf("restauth: %s: %w", path, err)
		}
		hashes[fu.Name] = []byte(fu.Bcrypt)
	}
	return hashes, fileStamp{st.ModTime(), st.Size()}, nil
}

// writeFile replaces the users file at once (a temporary file renamed over it), so that a
// server reloading it never reads half of it. Its directory is created if needed.
func writeFile(path string, hashes map[string][]byte) (fileStamp, error) {
	var ff fileFormat
	for _, n := range slices.Sorted(maps.Keys(hashes)) {
		ff.Users = append(ff.Users, fileUser{Name: n, Bcrypt: string(hashes[n])})
	}
	if ff.Users == nil {
		ff.Users = []fileUser{}
	}
	b, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return fileStamp{}, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fileStamp{}, fmt.Errorf("restauth: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".rest-users-*.json") // mode 0600
	if err != nil {
		return fileStamp{}, fmt.Errorf("restauth: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("restauth: write %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, fmt.Errorf("restauth: %w", err)
	}
	return fileStamp{st.ModTime(), st.Size()}, nil
}

// checkName: a name travels in HTTP Basic credentials, where the first ':' ends it.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("a user name may not be empty")
	case len(name) > maxName:
		return fmt.Errorf("user name %q is longer than %d bytes", name, maxName)
	case strings.Contains(name, ":"):
		return fmt.Errorf("user name %q: HTTP Basic credentials cannot carry a ':' in a name", name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return fmt.Errorf("user name %q: no spaces or control characters", name)
	}
	return nil
}

func checkPassword(password string) error {
	switch {
	case password == "":
		return errors.New("the password may not be empty")
	case len(password) > maxPassword:
		return fmt.Errorf("the password is %d bytes long; bcrypt uses at most %d", len(password), maxPassword)
	}
	return nil
}
