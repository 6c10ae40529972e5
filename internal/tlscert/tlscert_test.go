package tlscert

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var hosts = []string{"localhost", "127.0.0.1", "::1"}

// The first start generates the pair (key 0600, directory 0700); later starts present the same
// certificate, so a browser told to trust it once keeps trusting it.
func TestLoadOrCreateGeneratesOnceAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "potok")
	now := time.Now()
	c1, err := LoadOrCreate(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	if !c1.Created || !c1.SelfSigned {
		t.Fatalf("first start: Created %v SelfSigned %v, want both", c1.Created, c1.SelfSigned)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, c1.KeyFile: 0o600, c1.CertFile: 0o644} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", path, st.Mode().Perm(), want)
		}
	}
	if _, ok := c1.TLS.PrivateKey.(*ecdsa.PrivateKey); !ok || c1.Leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key %T / %v, want ECDSA P-256", c1.TLS.PrivateKey, c1.Leaf.PublicKeyAlgorithm)
	}
	c2, err := LoadOrCreate(dir, hosts, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c2.Created || c2.Fingerprint() != c1.Fingerprint() {
		t.Errorf("second start: Created %v, fingerprint %s, want the first one %s", c2.Created, c2.Fingerprint(), c1.Fingerprint())
	}
}

// A TLS client that trusts the generated certificate connects to it by each local name.
func TestSelfSignedHandshake(t *testing.T) {
	c, err := LoadOrCreate(t.TempDir(), DefaultHosts("media.example"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	defer wg.Wait()
	defer ln.Close()
	roots := x509.NewCertPool()
	roots.AddCert(c.Leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "media.example"} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Errorf("handshake as %s: %v", name, err)
			continue
		}
		if got := Fingerprint(conn.ConnectionState().PeerCertificates[0].Raw); got != c.Fingerprint() {
			t.Errorf("as %s: fingerprint %s, want %s", name, got, c.Fingerprint())
		}
		conn.Close()
	}
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "other.example"}); err == nil {
		t.Error("handshake as other.example succeeded, want a name mismatch")
	}
}

// A new --public-host or a certificate near its end gets a new certificate for the same key.
func TestLoadOrCreateRenews(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	c1, err := LoadOrCreate(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		hosts []string
		now   time.Time
	}{
		{"new host", append(hosts, "203.0.113.7", "media.example"), now},
		{"near its end", hosts, now.Add(Lifetime - RenewBefore + time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c2, err := LoadOrCreate(dir, tc.hosts, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !c2.Created || c2.Fingerprint() == c1.Fingerprint() {
				t.Errorf("Created %v, fingerprint unchanged %v: want a new certificate", c2.Created, c2.Fingerprint() == c1.Fingerprint())
			}
			if !c2.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(c1.Leaf.PublicKey) {
				t.Error("the key changed; it is kept for good")
			}
			if !covers(c2.Leaf, tc.hosts) {
				t.Errorf("SANs %v %v do not cover %v", c2.Leaf.DNSNames, c2.Leaf.IPAddresses, tc.hosts)
			}
		})
	}
}

// Processes starting at once on a fresh directory agree on one key.
func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	certs := make([]*Cert, 8)
	errs := make([]error, len(certs))
	var wg sync.WaitGroup
	for i := range certs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			certs[i], errs[i] = LoadOrCreate(dir, hosts, time.Now())
		}()
	}
	wg.Wait()
	for i, c := range certs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !c.Leaf.PublicKey.(*ecdsa.PublicKey).Equal(certs[0].Leaf.PublicKey) {
			t.Errorf("start %d has another key", i)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".potok-tls-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestLoadOrCreateRefusesReadableKey(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadOrCreate(dir, hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, hosts, time.Now()); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("error %v, want the chmod advice", err)
	}
}

func TestLoadOrCreateRefusesBrokenKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, hosts, time.Now()); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("error %v, want one naming the key file and what to do", err)
	}
}

// The operator's pair is read as given (here the generated one, copied).
func TestLoad(t *testing.T) {
	gen, err := LoadOrCreate(t.TempDir(), hosts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(gen.CertFile, gen.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfSigned || c.Fingerprint() != gen.Fingerprint() {
		t.Errorf("SelfSigned %v, fingerprint %s, want false and %s", c.SelfSigned, c.Fingerprint(), gen.Fingerprint())
	}
	if _, err := Load(gen.CertFile, filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing key: %v, want an error naming it", err)
	}
}

func TestFingerprintFormat(t *testing.T) {
	der := []byte("certificate")
	sum := sha256.Sum256(der)
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	got := strings.ReplaceAll(Fingerprint(der), ":", "")
	if got != want || len(Fingerprint(der)) != 32*3-1 {
		t.Errorf("Fingerprint = %s, want %s as colon-separated pairs", Fingerprint(der), want)
	}
}

func TestDefaultHosts(t *testing.T) {
	got := DefaultHosts("[2001:db8::1]")
	for _, want := range []string{"localhost", "127.0.0.1", "::1", "2001:db8::1"} {
		found := false
		for _, h := range got {
			found = found || h == want
		}
		if !found {
			t.Errorf("DefaultHosts = %v, missing %s", got, want)
		}
	}
	if net.ParseIP(got[len(got)-1]) == nil {
		t.Errorf("the public host comes last as an IP: %v", got)
	}
}
