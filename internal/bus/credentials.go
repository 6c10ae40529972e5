package bus

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
)

// Credentials are the users of an exposed embedded server, one per role, as kept in the
// credentials file (README "Securing the control plane"). The URLs are for operators starting
// more nodes: POTOK_NATS_URL="$(jq -r .mediad.url FILE)" potok mediad.
type Credentials struct {
	Comment string          `json:"comment,omitempty"`
	Signal  RoleCredentials `json:"signal"`
	Mediad  RoleCredentials `json:"mediad"`
}

// RoleCredentials are one role's user.
type RoleCredentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// URL is nats://user:password@host:port of the server that wrote the file (tls:// with TLS);
	// rewritten at every start, as the port may change.
	URL string `json:"url,omitempty"`
}

const credentialsComment = "Potok control-plane users of the embedded NATS (--nats-listen). Secret: keep " +
	"this file mode 0600. More nodes join with POTOK_NATS_URL=\"$(jq -r .mediad.url FILE)\" potok mediad " +
	"(signal.url for potok signal). Delete the file to generate new passwords at the next start."

// GenerateCredentials makes a new user per role with 256-bit random passwords.
func GenerateCredentials() (*Credentials, error) {
	c := &Credentials{Comment: credentialsComment}
	for _, rc := range []*RoleCredentials{&c.Signal, &c.Mediad} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("bus: generate credentials: %w", err)
		}
		// URL-safe: it goes into nats://user:pw@. The leading letter keeps nats-server from
		// reading a password that starts with a digit or '-' as a number when its config takes
		// it from an environment variable ($SIGNAL_PASSWORD, the README's sample): it re-parses
		// variable values, and "1Rx…" failed to parse ("Expected a digit but got 'R'").
		rc.Password = "P" + base64.RawURLEncoding.EncodeToString(b)
	}
	c.Signal.User, c.Mediad.User = string(RoleSignal), string(RoleMediad)
	return c, nil
}

// LoadOrCreateCredentials reads the credentials file at path, or generates credentials and
// writes them there (mode 0600, directories 0700) when it does not exist. A file that others
// may read is refused: its passwords must be assumed known.
func LoadOrCreateCredentials(path string) (c *Credentials, created bool, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if c, err = GenerateCredentials(); err != nil {
			return nil, false, err
		}
		if err := c.Save(path); err != nil {
			return nil, false, err
		}
		return c, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("bus: credentials file: %w", err)
	case st.Mode().Perm()&0o077 != 0:
		return nil, false, fmt.Errorf("bus: credentials file %s has mode %04o: others may read it; chmod 600 it (or delete it to generate new passwords)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("bus: credentials file: %w", err)
	}
	c = &Credentials{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, false, fmt.Errorf("bus: credentials file %s: %w", path, err)
	}
	for _, r := range []struct {
		role string
		rc   RoleCredentials
	}{{"signal", c.Signal}, {"mediad", c.Mediad}} {
		if r.rc.User == "" || r.rc.Password == "" {
			return nil, false, fmt.Errorf("bus: credentials file %s: %s.user and %s.password must be set", path, r.role, r.role)
		}
	}
	if c.Signal.User == c.Mediad.User {
		return nil, false, fmt.Errorf("bus: credentials file %s: signal and mediad need different users", path)
	}
	return c, false, nil
}

// Save writes c to path with mode 0600, atomically (a temporary file renamed over it).
func (c *Credentials) Save(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("bus: credentials: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bus: credentials directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".potok-credentials-*")
	if err != nil {
		return fmt.Errorf("bus: credentials file: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	// CreateTemp makes the file 0600; Chmod again in case of an odd umask-free filesystem.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("bus: credentials file: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("bus: credentials file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bus: credentials file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("bus: credentials file: %w", err)
	}
	return nil
}

// SetURLs sets each role's URL for a server at clientURL (nats://host:port or tls://host:port).
// A wildcard listen host (0.0.0.0, ::) is replaced by this machine's host name.
func (c *Credentials) SetURLs(clientURL string) error {
	u, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("bus: server URL %q: %w", clientURL, err)
	}
	if host, port, err := net.SplitHostPort(u.Host); err == nil {
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil && h != "" {
				u.Host = net.JoinHostPort(h, port)
			}
		}
	}
	for _, rc := range []*RoleCredentials{&c.Signal, &c.Mediad} {
		ru := *u
		ru.User = url.UserPassword(rc.User, rc.Password)
		rc.URL = ru.String()
	}
	return nil
}

// Users are the server's users for c: each role with its permissions.
func (c *Credentials) Users() []EmbeddedUser {
	return []EmbeddedUser{
		{User: c.Signal.User, Password: c.Signal.Password, Role: RoleSignal},
		{User: c.Mediad.User, Password: c.Mediad.Password, Role: RoleMediad},
	}
}
