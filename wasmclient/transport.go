package wasmclient

import (
	"fmt"
	"strings"
)

// transportTCP reads PublishOptions/PlayOptions.Transport: the WebSDK's values "UDP" and "TCP".
func transportTCP(t string) (bool, error) {
	switch strings.ToUpper(t) {
	case "", "UDP":
		return false, nil
	case "TCP":
		return true, nil
	}
	return false, fmt.Errorf("%w: transport %q is not UDP or TCP", ErrBadOptions, t)
}

// transportName is the request's transport: "TCP" however the option was spelled (the server
// compares it exactly, §B.4), else the option as given ("" leaves it out).
func transportName(tcp bool, option string) string {
	if tcp {
		return "TCP"
	}
	return option
}

// tcpCandidatesOnly drops the answer's UDP candidates, so that ICE can only succeed over the
// server's ICE-TCP candidate: asked for TCP, the server offers it beside its UDP one
// (docs/protocol.md §H.3), and a client that still reaches UDP would use it.
func tcpCandidatesOnly(sdp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 2 && strings.HasPrefix(f[0], "a=candidate:") && strings.EqualFold(f[2], "udp") {
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "")
}
