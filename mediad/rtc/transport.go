// Package rtc builds the daemon's pion peer connections: one ICE UDP port and one ICE-TCP port
// shared by every session (full ICE, host candidates only), codec registration, interceptors,
// and validation of client offers before they reach pion (docs/protocol.md §H.3).
package rtc

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
)

// Options configure the shared media ports.
type Options struct {
	ListenIP     string   // bind address; "" = 0.0.0.0 (127.0.0.1 with LoopbackOnly)
	UDPPort      int      // 0 = any free port
	TCPPort      int      // 0 = any free port, -1 = no ICE-TCP
	PublicIPs    []string // advertised instead of the interface addresses (NAT 1:1)
	LoopbackOnly bool     // only 127.0.0.1 candidates, only loopback peers (tests; docs/protocol.md §P.1)
	Logger       zerolog.Logger
	// OnUDPError is told of each failed read or write (write = true) on the shared UDP socket,
	// from the mux's goroutines and the packet writers: it must be quick (a counter). nil = none.
	OnUDPError func(write bool)
}

// Transport owns the shared sockets and the pion settings that use them.
type Transport struct {
	udp    *net.UDPConn
	tcp    *net.TCPListener
	udpMux ice.UDPMux
	tcpMux ice.TCPMux
	logs   logging.LoggerFactory
	se     webrtc.SettingEngine // UDP candidates only
	seTCP  webrtc.SettingEngine // UDP and passive TCP candidates
}

// Listen opens the shared UDP (and TCP) ports.
func Listen(o Options) (*Transport, error) {
	ip := net.IPv4zero
	if o.LoopbackOnly {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if o.ListenIP != "" {
		if ip = net.ParseIP(o.ListenIP); ip == nil {
			return nil, fmt.Errorf("rtc: listen address %q is not an IP", o.ListenIP)
		}
	}
	t := &Transport{logs: pionLogs{o.Logger}}
	udpNet, tcpNet := "udp4", "tcp4"
	if ip.To4() == nil {
		udpNet, tcpNet = "udp6", "tcp6"
	}
	var err error
	if t.udp, err = net.ListenUDP(udpNet, &net.UDPAddr{IP: ip, Port: o.UDPPort}); err != nil {
		return nil, fmt.Errorf("rtc: ICE UDP port: %w", err)
	}
	t.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: &countedUDP{UDPConn: t.udp, onError: o.OnUDPError},
		Logger: t.logs.NewLogger("udpmux")})
	if o.TCPPort >= 0 {
		if t.tcp, err = net.ListenTCP(tcpNet, &net.TCPAddr{IP: ip, Port: o.TCPPort}); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("rtc: ICE TCP port: %w", err)
		}
		// A write buffer makes ICE-TCP writes non-blocking: when a client stops reading, its
		// packets are dropped once the buffer is full instead of stalling the forwarder's writer,
		// which serves other subscribers too. 512 KiB is about 4 s of 1 Mbit/s video.
		t.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener: t.tcp, Logger: t.logs.NewLogger("tcpmux"), ReadBufferSize: 16, WriteBufferSize: tcpWriteBuffer,
		})
	}
	if t.se, err = t.settings(o, false, udpNet == "udp6"); err != nil {
		_ = t.Close()
		return nil, err
	}
	if t.seTCP, err = t.settings(o, t.tcp != nil, udpNet == "udp6"); err != nil {
		_ = t.Close()
		return nil, err
	}
	return t, nil
}

// tcpWriteBuffer bounds what ICE-TCP queues per connection (see Listen).
const tcpWriteBuffer = 512 << 10

func (t *Transport) settings(o Options, withTCP, v6 bool) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.LoggerFactory = t.logs
	// Full ICE, not ICE-lite: the client is controlling (it offers) and we answer its checks, but
	// we also send our own, triggered by its first one, to the address it came from (peer-
	// reflexive). A controlling agent nominates at once when the peer's check arrives on a pair it
	// has validated, so the join costs one round trip; against a lite server, which never checks,
	// pion's controlling agent (our Go client, pion-based apps) nominated only on its next 200 ms
	// check tick (docs/protocol.md §H.3).
	se.SetLite(false)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICEUDPMux(t.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if v6 {
		types = []webrtc.NetworkType{webrtc.NetworkTypeUDP6}
	}
	if withTCP {
		se.SetICETCPMux(t.tcpMux)
		if v6 {
			types = append(types, webrtc.NetworkTypeTCP6)
		} else {
			types = append(types, webrtc.NetworkTypeTCP4)
		}
	}
	se.SetNetworkTypes(types)
	se.DisableActiveTCP(true)
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	if o.LoopbackOnly {
		// docs/protocol.md §P.1: the UDP mux drops loopback addresses unless asked, and without the remote
		// filter pion pairs with the browser's LAN socket instead of 127.0.0.1.
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop)
	}
	if len(o.PublicIPs) > 0 {
		for _, s := range o.PublicIPs {
			if net.ParseIP(s) == nil {
				return se, fmt.Errorf("rtc: public IP %q is not an IP", s)
			}
		}
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        o.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return se, fmt.Errorf("rtc: public IPs: %w", err)
		}
	}
	return se, nil
}

// UDPAddr is the bound ICE UDP address.
func (t *Transport) UDPAddr() *net.UDPAddr {
	a, _ := t.udp.LocalAddr().(*net.UDPAddr)
	return a
}

// TCPAddr is the bound ICE-TCP address, nil when ICE-TCP is off.
func (t *Transport) TCPAddr() *net.TCPAddr {
	if t.tcp == nil {
		return nil
	}
	a, _ := t.tcp.Addr().(*net.TCPAddr)
	return a
}

// Close closes the shared ports. Peer connections must be closed first.
func (t *Transport) Close() error {
	var errs []error
	if t.udpMux != nil {
		errs = append(errs, t.udpMux.Close())
	} else if t.udp != nil {
		errs = append(errs, t.udp.Close())
	}
	if t.tcpMux != nil {
		errs = append(errs, t.tcpMux.Close())
	} else if t.tcp != nil {
		errs = append(errs, t.tcp.Close())
	}
	return errors.Join(errs...)
}

// PeerOptions describe one peer connection.
type PeerOptions struct {
	Codecs   []Codec
	TCP      bool          // also offer passive ICE-TCP candidates (client asked transport "TCP")
	Counters *RTCPCounters // optional: counts RTCP feedback sent to the peer
}

// NewPeerConnection creates a peer connection negotiating only the given codecs. Each peer gets its
// own MediaEngine so a player's answer can only carry its publisher's codecs (docs/protocol.md §E.3).
// Interceptors: NACK generator and receiver reports for what we receive, sender reports for what we
// send. There is deliberately no NACK responder: the forwarder answers subscribers' NACKs from its
// own packet cache.
func (t *Transport) NewPeerConnection(o PeerOptions) (*webrtc.PeerConnection, error) {
	me, err := newMediaEngine(o.Codecs)
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(t.logs))
	if err != nil {
		return nil, fmt.Errorf("rtc: nack generator: %w", err)
	}
	reg.Add(gen)
	recv, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(t.logs))
	if err != nil {
		return nil, fmt.Errorf("rtc: receiver reports: %w", err)
	}
	reg.Add(recv)
	send, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(t.logs))
	if err != nil {
		return nil, fmt.Errorf("rtc: sender reports: %w", err)
	}
	reg.Add(send)
	if o.Counters != nil {
		reg.Add(counterFactory{o.Counters})
	}
	se := t.se
	if o.TCP {
		se = t.seTCP
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(reg))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("rtc: new peer connection: %w", err)
	}
	return pc, nil
}
