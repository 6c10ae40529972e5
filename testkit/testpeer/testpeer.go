// Package testpeer builds the pion API that tests use as a browser stand-in: default codecs,
// loopback addresses only, no mDNS (docs/protocol.md §P.1: the settings that pair on
// 127.0.0.1 both on the host network and in a loopback-only namespace).
package testpeer

import (
	"net"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Options adjust the stand-in.
type Options struct {
	// NoReplayProtection lets a test observe a retransmission of a packet it already received.
	NoReplayProtection bool
}

// API returns a loopback-only pion API with the default codecs.
func API(t testing.TB, o Options) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if o.NoReplayProtection {
		se.DisableSRTPReplayProtection(true)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}
