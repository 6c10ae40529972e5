package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate, as PEM files.
type testPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey, OtherCA string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	template := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	}
	ca := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
		k := key()
		tmpl := template(name)
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, k, write(name+".pem", "CERTIFICATE", der)
	}
	caCert, caKey, caFile := ca("potok-test-ca")
	_, _, otherCA := ca("other-ca")
	leaf := func(name string, usage x509.ExtKeyUsage, ips ...net.IP) (string, string) {
		k := key()
		tmpl := template(name)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = ips
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".pem", "CERTIFICATE", der), write(name+"-key.pem", "EC PRIVATE KEY", kder)
	}
	p := testPKI{CA: caFile, OtherCA: otherCA}
	p.ServerCert, p.ServerKey = leaf("server", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	p.ClientCert, p.ClientKey = leaf("client", x509.ExtKeyUsageClientAuth)
	return p
}

// The embedded server with TLS and client verification: a node with the CA, a client
// certificate and its role's password gets in over tls://; without the CA, with another CA or
// without a client certificate it is refused at once; the all-in-one's in-process connection needs
// none of it.
func TestEmbeddedTLS(t *testing.T) {
	pki := newTestPKI(t)
	creds, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Users: creds.Users(),
		TLS: &EmbeddedTLS{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CAFile: pki.CA}})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	if !strings.HasPrefix(emb.ClientURL(), "tls://") {
		t.Fatalf("client URL %s, want tls://", emb.ClientURL())
	}
	if err := creds.SetURLs(emb.ClientURL()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(creds.Mediad.URL, "tls://mediad:") {
		t.Errorf("mediad URL %s, want tls://mediad:…", creds.Mediad.URL)
	}
	good := ClientAuth{TLSCAFile: pki.CA, TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey}
	l, err := Dial(DialOptions{URL: creds.Mediad.URL, Name: "mediad", Auth: good, InboxPrefix: RoleMediad.InboxPrefix()})
	if err != nil {
		t.Fatalf("Dial over TLS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := OpenDirectory(ctx, l.Conn, DirectoryConfig{}); err != nil {
		t.Errorf("directory over TLS: %v", err)
	}
	if st, err := l.TLSConnectionState(); err != nil || !st.HandshakeComplete {
		t.Errorf("connection is not TLS: %v", err)
	}
	l.Close()

	cases := []struct {
		name string
		url  string
		auth ClientAuth
	}{
		{"no CA", creds.Mediad.URL, ClientAuth{TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey}},
		{"other CA", creds.Mediad.URL, ClientAuth{TLSCAFile: pki.OtherCA, TLSCertFile: pki.ClientCert, TLSKeyFile: pki.ClientKey}},
		{"no client certificate", creds.Mediad.URL, ClientAuth{TLSCAFile: pki.CA}},
		{"plain nats:// to a TLS server", strings.Replace(creds.Mediad.URL, "tls://", "nats://", 1), ClientAuth{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			l, err := Dial(DialOptions{URL: tc.url, Name: "bad", Auth: tc.auth})
			if err == nil {
				l.Close()
				t.Fatal("Dial succeeded")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refusal took %s: %v", d, err)
			}
			t.Logf("refused: %v", err)
		})
	}

	in, err := emb.Connect("all-in-one")
	if err != nil {
		t.Fatalf("in-process connection to a TLS server: %v", err)
	}
	defer in.Close()
	if _, err := OpenDirectory(ctx, in.Conn, DirectoryConfig{}); err != nil {
		t.Errorf("in-process directory: %v", err)
	}
}

// Without a CA for clients the server needs only its certificate, and a client only the CA.
func TestEmbeddedTLSWithoutClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	creds, err := GenerateCredentials()
	if err != nil {
		t.Fatal(err)
	}
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Users: creds.Users(),
		TLS: &EmbeddedTLS{CertFile: pki.ServerCert, KeyFile: pki.ServerKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	if err := creds.SetURLs(emb.ClientURL()); err != nil {
		t.Fatal(err)
	}
	l, err := Dial(DialOptions{URL: creds.Signal.URL, Name: "signal", Auth: ClientAuth{TLSCAFile: pki.CA}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, err := l.TLSConnectionState(); err != nil || !st.HandshakeComplete {
		t.Errorf("connection is not TLS: %v", err)
	}
}
