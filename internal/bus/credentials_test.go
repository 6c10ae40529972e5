package bus

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The first start writes the credentials with mode 0600 (in a directory it creates 0700); the next
// reuses them; a file others may read is refused.
func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "potok", "nats-credentials.json")
	c, created, err := LoadOrCreateCredentials(path)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(filepath.Dir(path)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v; want mode 0700", dst.Mode().Perm(), err)
	}
	if c.Signal.User != "signal" || c.Mediad.User != "mediad" || len(c.Signal.Password) < 40 || c.Signal.Password == c.Mediad.Password {
		t.Errorf("generated %+v", c)
	}
	if err := c.SetURLs("nats://0.0.0.0:4222"); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Mediad.URL)
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); u.User.Username() != "mediad" || pw != c.Mediad.Password || u.Port() != "4222" || u.Hostname() == "0.0.0.0" {
		t.Errorf("mediad URL %s: want nats://mediad:<password>@<this host>:4222", c.Mediad.URL)
	}
	again, created, err := LoadOrCreateCredentials(path)
	if err != nil || created {
		t.Fatalf("second start: created %v, %v", created, err)
	}
	if *again != *c {
		t.Errorf("second start read %+v, want the first start's %+v", again, c)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite %04o", st.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCredentials(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file: %v, want a refusal", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"signal":{"user":"signal","password":"x"},"mediad":{"user":"mediad"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCredentials(bad); err == nil || !strings.Contains(err.Error(), "mediad.password") {
		t.Errorf("incomplete file: %v", err)
	}
}

// Generated passwords start with a letter: nats-server reads an environment variable's value
// as a number when it starts with a digit or '-', and then refuses its configuration.
func TestGeneratedPasswordsStartWithALetter(t *testing.T) {
	for range 200 {
		c, err := GenerateCredentials()
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{c.Signal.Password, c.Mediad.Password} {
			if ch := pw[0]; !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
				t.Fatalf("password %q starts with %q", pw, ch)
			}
		}
	}
}
