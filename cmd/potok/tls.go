package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/config"
	"github.com/potok-media/potok/internal/tlscert"
)

// signalListeners are signal's sockets, bound before the node starts so that its first heartbeat
// already says where clients reach it (control.Endpoint, the lbUrl answer) and a port in use fails
// the start before the node joins the directory. nil = that listener is off.
type signalListeners struct {
	ws, http, wss, https net.Listener
}

// bindSignal binds the listeners of c; on an error none is left open.
func bindSignal(c config.Signal) (*signalListeners, error) {
	l := &signalListeners{}
	for _, b := range []struct {
		what, addr string
		ln         *net.Listener
		optional   bool // "" turns it off
	}{
		{"websocket", c.WSListen, &l.ws, false},
		{"http", c.HTTPListen, &l.http, false},
		{"wss", c.WSSListen, &l.wss, true},
		{"https", c.HTTPSListen, &l.https, true},
	} {
		if b.optional && b.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("%s listen %s: %w", b.what, b.addr, err)
		}
		*b.ln = ln
	}
	return l, nil
}

func (l *signalListeners) close() {
	for _, ln := range []net.Listener{l.ws, l.http, l.wss, l.https} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// endpoint is where clients reach the node: --public-host, else the WebSocket listener's IP when
// it is a specific one, else "" (the lookup then answers with the host the request named).
func (l *signalListeners) endpoint(publicHost string) *control.Endpoint {
	ep := &control.Endpoint{Host: publicHost, WS: port(l.ws), WSS: port(l.wss), HTTP: port(l.http), HTTPS: port(l.https)}
	if ep.Host == "" {
		if a, ok := l.ws.Addr().(*net.TCPAddr); ok && !a.IP.IsUnspecified() {
			ep.Host = a.IP.String()
		}
	}
	return ep
}

func port(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// tlsConfig is the certificate of the TLS listeners (README "TLS"): --tls-cert/--tls-key, or the
// self-signed pair in the state directory, beside the NATS credentials file. Its fingerprint is
// logged at every start, so that whoever accepts it in a browser can check it is this one.
func (p *process) tlsConfig(c config.Signal) (*tls.Config, error) {
	var cert *tlscert.Cert
	var err error
	if c.TLSCert != "" {
		cert, err = tlscert.Load(c.TLSCert, c.TLSKey)
	} else {
		dir := filepath.Dir(config.DefaultCredentialsPath(os.Getenv))
		if abs, aerr := filepath.Abs(dir); aerr == nil {
			dir = abs
		}
		cert, err = tlscert.LoadOrCreate(dir, tlscert.DefaultHosts(c.PublicHost), time.Now())
	}
	if err != nil {
		return nil, fmt.Errorf("signal: TLS certificate: %w", err)
	}
	ev := p.log.Info().Str("cert", cert.CertFile).Str("key", cert.KeyFile).Str("fingerprint", "SHA256:"+cert.Fingerprint()).
		Time("notAfter", cert.Leaf.NotAfter).Strs("dnsNames", cert.Leaf.DNSNames)
	switch {
	case cert.Created:
		ev.Msg("generated a self-signed TLS certificate (no --tls-cert); browsers must be told to trust it")
	case cert.SelfSigned:
		ev.Msg("self-signed TLS certificate")
	default:
		ev.Msg("TLS certificate")
	}
	return cert.Config(), nil
}
