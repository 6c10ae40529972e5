package restauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Tests hash at bcrypt's lowest cost and count the comparisons.
var compares atomic.Int64

func TestMain(m *testing.M) {
	hashCost = bcrypt.MinCost
	compare = func(hash, password []byte) error {
		compares.Add(1)
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	os.Exit(m.Run())
}

// clock is a settable time for Users.now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time           { return c.t }
func (c *clock) advance(d time.Duration)  { c.t = c.t.Add(d) }
func withClock(u *Users, c *clock) *Users { u.now = c.now; u.checked = c.t; return u }

func load(t *testing.T, path string) *Users {
	t.Helper()
	u, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAddCheckRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "rest-users.json")
	u := load(t, path) // no file yet: no users
	if len(u.List()) != 0 || u.Check("admin", "") {
		t.Fatal("users without a file")
	}
	if err := u.Add("admin", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("admin", "other"); !errors.Is(err, ErrExists) {
		t.Errorf("add twice: %v, want ErrExists", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file %v, %v; want mode 0600", st, err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"bcrypt": "$2a$`) {
		t.Errorf("file content:\n%s\nwant a bcrypt hash and no password", b)
	}
	again := load(t, path)
	for _, tc := range []struct {
		user, password string
		ok             bool
	}{{"admin", "s3cret", true}, {"admin", "s3cret ", false}, {"admin", "", false}, {"root", "s3cret", false}} {
		if got := again.Check(tc.user, tc.password); got != tc.ok {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.user, tc.password, got, tc.ok)
		}
	}
	if err := again.Set("admin", "new"); err != nil || again.Check("admin", "s3cret") || !again.Check("admin", "new") {
		t.Errorf("Set: %v, or the old password still works", err)
	}
	if err := again.Add("bob", "b"); err != nil {
		t.Fatal(err)
	}
	if got := again.List(); !slices.Equal(got, []string{"admin", "bob"}) {
		t.Errorf("List %v", got)
	}
	if err := again.Remove("admin"); err != nil || again.Check("admin", "new") {
		t.Errorf("Remove: %v, or the removed user still passes", err)
	}
	if err := again.Remove("admin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove twice: %v, want ErrNotFound", err)
	}
}

func TestRefusedInput(t *testing.T) {
	u := load(t, filepath.Join(t.TempDir(), "u.json"))
	for _, tc := range []struct{ user, password, says string }{
		{"", "p", "empty"},
		{"a:b", "p", "':'"},
		{"a b", "p", "spaces"},
		{strings.Repeat("n", 65), "p", "longer"},
		{"a", "", "password may not be empty"},
		{"a", strings.Repeat("p", 73), "at most 72"},
	} {
		if err := u.Add(tc.user, tc.password); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Add(%q, …): %v, want it to say %q", tc.user, err, tc.says)
		}
	}
}

// A file others may read, or that is no users file, is refused with what to do.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		content string
		mode    os.FileMode
		says    string
	}{
		"readable":  {`{"users":[]}`, 0o644, "chmod 600"},
		"garbage":   {`{"users":`, 0o600, "unexpected EOF"},
		"not-a-key": {`{"users":[{"name":"a","bcrypt":"plain"}]}`, 0o600, "not a bcrypt hash"},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.says)
		}
	}
}

// A server with REST auth on and nobody to let in does not start, and says what to run.
func TestRequire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rest-users.json")
	_, err := Require(path)
	if !errors.Is(err, ErrNoUsers) || !strings.Contains(err.Error(), "potok users add NAME") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Require without users: %v", err)
	}
	if err := load(t, path).Add("admin", "pw"); err != nil {
		t.Fatal(err)
	}
	if u, err := Require(path); err != nil || !u.Check("admin", "pw") {
		t.Fatalf("Require with a user: %v", err)
	}
}

// What potok users writes, a running server sees within a second, without a restart; a check
// that succeeded is not paid for with bcrypt again until then.
func TestReloadAndCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rest-users.json")
	c := &clock{t: time.Unix(1e9, 0)}
	server := withClock(load(t, path), c)
	cli := load(t, path)
	if err := cli.Add("alice", "a"); err != nil {
		t.Fatal(err)
	}
	if server.Check("alice", "a") {
		t.Error("a change seen before a second passed: the file is looked at on every request")
	}
	c.advance(reloadEvery)
	if !server.Check("alice", "a") {
		t.Fatal("an added user not seen after a second")
	}
	before := compares.Load()
	for range 5 {
		if !server.Check("alice", "a") {
			t.Fatal("a repeated check failed")
		}
	}
	if n := compares.Load() - before; n != 0 {
		t.Errorf("%d bcrypt comparisons for repeated good credentials, want 0", n)
	}
	server.Check("alice", "wrong")
	if n := compares.Load() - before; n != 1 {
		t.Errorf("a wrong password cost %d comparisons, want 1 (failures are not cached)", n)
	}
	if err := cli.Remove("alice"); err != nil {
		t.Fatal(err)
	}
	c.advance(reloadEvery)
	if server.Check("alice", "a") {
		t.Error("a removed user still passes once the file was reloaded (the cache outlived the reload)")
	}
	// The cache expires, and is bounded.
	if err := cli.Add("bob", "b"); err != nil {
		t.Fatal(err)
	}
	c.advance(reloadEvery)
	server.Check("bob", "b")
	c.advance(cacheFor)
	before = compares.Load()
	server.Check("bob", "b")
	if compares.Load() == before {
		t.Error("a success remembered past cacheFor")
	}
	for i := range cacheMax + 10 {
		server.remember([32]byte{byte(i), byte(i >> 8)}, c.now())
	}
	if n := len(server.ok); n > cacheMax {
		t.Errorf("cache holds %d entries, at most %d allowed", n, cacheMax)
	}
	// A file that turns unreadable keeps the users read before.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.advance(reloadEvery)
	if !server.Check("bob", "b") {
		t.Error("a broken file locked everyone out")
	}
}

func TestWrap(t *testing.T) {
	u := load(t, filepath.Join(t.TempDir(), "u.json"))
	if err := u.Add("admin", "pw"); err != nil {
		t.Fatal(err)
	}
	h := u.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	for _, tc := range []struct {
		method, user, password string
		code                   int
	}{
		{"POST", "", "", 401},
		{"POST", "admin", "no", 401},
		{"POST", "admin", "pw", 200},
		{"GET", "admin", "pw", 200},
		{"OPTIONS", "", "", 200},
	} {
		req := httptest.NewRequest(tc.method, "/rest-api/stream/find_all", nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.password)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code {
			t.Errorf("%s as %q: %d, want %d", tc.method, tc.user, rec.Code, tc.code)
		}
		if tc.code == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge: %q", rec.Header().Get("WWW-Authenticate"))
		}
	}
}
