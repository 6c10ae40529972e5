// Package restauth is the management REST API's users ("production mode", docs/protocol.md §G.1):
// names with bcrypt-hashed passwords in a JSON file of mode 0600 (config REST.UsersPath), managed
// with `potok users`, checked against HTTP Basic credentials on every request.
//
// A running server notices changes of the file within a second (its mtime and size are looked
// at no more than once a second), so users are added and removed without a restart. Because
// bcrypt costs tens of milliseconds by design, a successful check is remembered for a minute
// under the SHA-256 of the credentials, in a small bounded cache emptied at every reload: a
// client sending the same credentials on each request pays bcrypt once a minute, and a removed
// user or a changed password takes effect at the next reload.
package restauth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
)

// Errors of the user operations.
var (
	ErrExists   = errors.New("user exists")
	ErrNotFound = errors.New("no such user")
	ErrNoUsers  = errors.New("no REST API users")
)

// Users is the users file's content, as this process last read or wrote it.
type Users struct {
	path string
	// Log hears reloads and files that could not be reloaded; set it before the first Check.
	Log zerolog.Logger

	mu      sync.Mutex
	hashes  map[string][]byte // name → bcrypt hash
	stamp   fileStamp         // of the file as last read or written
	checked time.Time         // when the file was last looked at for changes
	ok      map[[sha256.Size]byte]time.Time
	now     func() time.Time // the clock; tests replace it
}

// fileStamp is what tells a changed file: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

const (
	reloadEvery = time.Second // the file is looked at no more often
	cacheFor    = time.Minute // how long a successful check is remembered
	cacheMax    = 256         // remembered successes at most
	maxName     = 64          // bytes
	maxPassword = 72          // bytes: bcrypt ignores what follows
)

// Seams for the tests: the bcrypt cost of new hashes, and the comparison (to count them).
var (
	hashCost = bcrypt.DefaultCost
	compare  = bcrypt.CompareHashAndPassword
)

// Load reads the users file at path. A file that does not exist yet is no users (potok users
// add creates it); one that others may read is refused, since its hashes could then be attacked
// offline.
func Load(path string) (*Users, error) {
	u := &Users{path: path, hashes: map[string][]byte{}, ok: map[[sha256.Size]byte]time.Time{}, now: time.Now}
	hashes, stamp, err := readFile(path)
	if err != nil {
		return nil, err
	}
	u.hashes, u.stamp, u.checked = hashes, stamp, u.now()
	return u, nil
}

// Require loads the users file for a server with REST API authentication on: without any user
// nobody could use the API, so that is an error (wrapping ErrNoUsers) that tells the operator
// what to run.
func Require(path string) (*Users, error) {
	u, err := Load(path)
	if err != nil {
		return nil, err
	}
	if len(u.List()) == 0 {
		return nil, NoUsersError(path)
	}
	return u, nil
}

// NoUsersError is the refusal to start with REST API authentication on and no user in path.
func NoUsersError(path string) error {
	return fmt.Errorf("%w: REST API authentication is on (--rest-auth) but %s has none; add one with `potok users add NAME` (--file %s if the server uses another file), or turn authentication off",
		ErrNoUsers, path, path)
}

// Path is the users file.
func (u *Users) Path() string { return u.path }

// List returns the user names, sorted.
func (u *Users) List() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.hashes))
	for n := range u.hashes {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Check reports whether password is user's. An unknown user costs a bcrypt comparison all the
// same, so that the time taken does not tell which names exist.
func (u *Users) Check(user, password string) bool {
	u.reload()
	key := sha256.Sum256([]byte(user + "\x00" + password))
	u.mu.Lock()
	now := u.now()
	if exp, hit := u.ok[key]; hit && now.Before(exp) {
		u.mu.Unlock()
		return true
	}
	hash, known := u.hashes[user]
	u.mu.Unlock()
	if !known {
		hash = dummyHash()
	}
	if compare(hash, []byte(password)) != nil || !known {
		return false
	}
	u.remember(key, now)
	return true
}

// remember caches a success; a full cache first drops what expired, and everything if that is
// not enough (the cache is a shortcut, never needed).
func (u *Users) remember(key [sha256.Size]byte, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ok) >= cacheMax {
		for k, exp := range u.ok {
			if !now.Before(exp) {
				delete(u.ok, k)
			}
		}
		if len(u.ok) >= cacheMax {
			clear(u.ok)
		}
	}
	u.ok[key] = now.Add(cacheFor)
}

// reload reads the file again when it changed since it was last read, at most once a second. A
// file that cannot be read keeps the users last read: a half-edited file does not lock everyone
// out, nor let everyone in.
func (u *Users) reload() {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	if now.Sub(u.checked) < reloadEvery {
		return
	}
	u.checked = now
	st, err := os.Stat(u.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if len(u.hashes) > 0 {
			u.hashes, u.stamp = map[string][]byte{}, fileStamp{}
			clear(u.ok)
			u.Log.Warn().Str("file", u.path).Msg("REST users file removed: no user can authenticate")
		}
		return
	case err != nil:
		u.Log.Warn().Err(err).Str("file", u.path).Msg("REST users file not reloaded")
		return
	}
	seen := fileStamp{st.ModTime(), st.Size()}
	if seen == u.stamp {
		return
	}
	hashes, stamp, err := readFile(u.path)
	if err != nil {
		u.stamp = seen // said once, tried again when the file changes again
		u.Log.Warn().Err(err).Str("file", u.path).Msg("REST users file not reloaded, the users read before stay")
		return
	}
	u.hashes, u.stamp = hashes, stamp
	clear(u.ok)
	u.Log.Info().Str("file", u.path).Int("users", len(hashes)).Msg("REST users reloaded")
}

var (
	dummyOnce sync.Once
	dummy     []byte
)

// dummyHash is a hash of nothing anyone sends, made once, for comparing unknown users.
func dummyHash() []byte {
	dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("no such user"), hashCost)
		if err != nil {
			panic(err) // only for a cost out of range
		}
		dummy = h
	})
	return dummy
}
