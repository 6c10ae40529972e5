//go:build !js

package wasmclient

import (
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/wasmclient/media"
)

// Payload types as Chromium numbers them, so offers look like the WebSDK's.
const (
	ptVP8  = 96
	ptH264 = 102
	ptOpus = 111
)

// newAPI builds a pion API for one peer connection that offers exactly caps. A media engine per
// connection lets a publisher offer only its sources' codecs, so the server cannot pick another.
func newAPI(loopback, tcp bool, caps ...webrtc.RTPCodecCapability) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range caps {
		kind, pt := webrtc.RTPCodecTypeAudio, webrtc.PayloadType(ptOpus)
		switch c.MimeType {
		case webrtc.MimeTypeVP8:
			kind, pt = webrtc.RTPCodecTypeVideo, ptVP8
		case webrtc.MimeTypeH264:
			kind, pt = webrtc.RTPCodecTypeVideo, ptH264
		case webrtc.MimeTypeOpus:
		default:
			return nil, fmt.Errorf("%w: codec %s is not supported", ErrBadOptions, c.MimeType)
		}
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: c, PayloadType: pt}, kind); err != nil {
			return nil, fmt.Errorf("wasmclient: register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("wasmclient: interceptors: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(settingEngine(loopback, tcp))), nil
}

// settingEngine: UDP over IPv4 without mDNS, or with tcp active ICE-TCP only (the server's
// candidate is passive); with loopback, only 127.0.0.1 on both ends, the settings of
// docs/protocol.md §P.1 (pion skips loopback candidates by default).
func settingEngine(loopback, tcp bool) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if tcp {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if loopback {
		isLoop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(isLoop)
		se.SetRemoteIPFilter(isLoop)
	}
	return se
}

// playCodecs are what a player offers: the WCS answer's codecs (docs/protocol.md §H.3).
var playCodecs = []webrtc.RTPCodecCapability{media.CapabilityOpus, media.CapabilityVP8, media.CapabilityH264}
