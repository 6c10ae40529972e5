package tlscert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Lifetime of a generated certificate, and how long before its end it is replaced at a start.
// A year keeps a certificate someone chose to trust valid for a while; renewing a month early
// means a server restarted now and then never presents an expired one.
const (
	Lifetime    = 365 * 24 * time.Hour
	RenewBefore = 30 * 24 * time.Hour
)

// LoadOrCreate returns the self-signed certificate kept in dir (CertFileName, KeyFileName),
// creating dir (0700) and the pair at first start. The key (ECDSA P-256, mode 0600) is kept for
// good; the certificate is reused while it names every host and is not within RenewBefore of its
// end, else a new one is made for the same key. Processes starting at once on one directory end
// with one key: it is created with a hard link, which fails when another process won.
func LoadOrCreate(dir string, hosts []string, now time.Time) (*Cert, error) {
	hosts = dedupe(hosts)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlscert: state directory: %w", err)
	}
	keyPath, certPath := filepath.Join(dir, KeyFileName), filepath.Join(dir, CertFileName)
	key, err := loadOrCreateKey(keyPath)
	if err != nil {
		return nil, err
	}
	c := &Cert{CertFile: certPath, KeyFile: keyPath, SelfSigned: true}
	if leaf, err := readCert(certPath); err == nil && usable(leaf, key, hosts, now) {
		c.Leaf = leaf
	} else {
		if c.Leaf, err = writeCert(certPath, key, hosts, now); err != nil {
			return nil, err
		}
		c.Created = true
	}
	c.TLS = tls.Certificate{Certificate: [][]byte{c.Leaf.Raw}, PrivateKey: key, Leaf: c.Leaf}
	return c, nil
}

// usable: leaf belongs to key, names every host and stays valid past RenewBefore.
func usable(leaf *x509.Certificate, key *ecdsa.PrivateKey, hosts []string, now time.Time) bool {
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	return ok && pub.Equal(key.Public()) && !now.Before(leaf.NotBefore) &&
		now.Add(RenewBefore).Before(leaf.NotAfter) && covers(leaf, hosts)
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlscert: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlscert: encode key: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// A link never replaces a file: of two processes generating at once, the second reads the
	// first one's key.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return readKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	return key, nil
}

// readKey reads a generated key, refusing one that others may read: it must be assumed known.
func readKey(path string) (*ecdsa.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("tlscert: key %s has mode %04o: others may read it; chmod 600 it (or delete it to generate a new certificate)",
			path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("tlscert: key %s: no PEM block (delete it to generate a new certificate)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tlscert: key %s: %w (delete it to generate a new certificate)", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("tlscert: key %s is a %T, want ECDSA (delete it to generate a new certificate)", path, k)
	}
	return key, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("tlscert: %s: no certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// writeCert makes a certificate of key for hosts and writes it (0644: it is public) atomically.
func writeCert(path string, key crypto.Signer, hosts []string, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("tlscert: serial: %w", err)
	}
	host, _ := os.Hostname()
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "potok self-signed " + host, Organization: []string{"Potok"}},
		NotBefore:             now.Add(-time.Hour), // clocks of clients a little behind
		NotAfter:              now.Add(Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlscert: create certificate: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("tlscert: certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// writeTemp writes b to a new file in dir with mode perm and returns its path.
func writeTemp(dir string, b []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, ".potok-tls-*")
	if err != nil {
		return "", fmt.Errorf("tlscert: %w", err)
	}
	_, err = bytes.NewReader(b).WriteTo(f)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("tlscert: write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}
