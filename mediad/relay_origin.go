package mediad

import (
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
)

// The origin's side of a relay: to the stream's publisher, an edge daemon is one more player (a
// session with relay set, owned by the edge as a signal node owns its players). It ends like any
// player — the publisher stops, the edge asks (relayStop), or the edge's node record goes (the
// owner sweep of controlplane.go) — and the edge hears of it through a RelayEvent.

// handleRelay answers an edge's offer for a stream published here. A stream this daemon only
// relays is refused: relays start at the origin, so a chain is one hop and never loops.
func (d *Daemon) handleRelay(m *nats.Msg) any {
	var req control.RelayRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.RelayReply{Error: "bad request: " + err.Error()}
	}
	st := d.stream(req.StreamName)
	if st == nil {
		return control.RelayReply{Error: wcs.InfoStreamNotFound}
	}
	owner := control.RelayOwner(req.Edge, req.EdgeStarted, req.StreamName)
	if old := d.session(owner.Key()); old != nil && old.relay {
		// The edge asks again: its previous relay is gone on its side (its relayStop may still
		// be on the way), so this one replaces it.
		d.end(old, "", "", false)
	}
	if msg := d.precheck(owner.Key(), "", false); msg != "" {
		return control.RelayReply{Error: msg}
	}
	s, answered, msg := d.servePlayer(owner, st, req.Offer, false, true)
	if msg != "" {
		return control.RelayReply{Error: msg}
	}
	reply := control.RelayReply{Answer: answered.SDP, OriginStarted: d.started.UnixMilli()}
	reply.AudioMuted, reply.VideoMuted = st.muted()
	for kind, c := range answered.Codecs {
		reply.Codecs = append(reply.Codecs, control.RelayCodec{Kind: kind.String(), MimeType: c.MimeType,
			ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.SDPFmtpLine, PayloadType: uint8(c.PayloadType)})
	}
	s.log.Info().Str("edge", req.Edge).Msg("relay answered")
	return reply
}

// handleRelayStop ends the relay of an edge whose last player left.
func (d *Daemon) handleRelayStop(m *nats.Msg) any {
	var req control.RelayStopRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.StopReply{Error: "bad request: " + err.Error()}
	}
	owner := control.RelayOwner(req.Edge, req.EdgeStarted, req.StreamName)
	if s := d.session(owner.Key()); s != nil && s.relay {
		s.log.Info().Msg("relay stopped by its edge")
		d.end(s, "", "", false)
	}
	return control.StopReply{}
}

// emitRelay tells the edge of a relay what its players must know: the stream ended (the info
// they end with) or a stream event to fan out. Rates, sizes and the connected state are the
// edge's own to measure.
func (d *Daemon) emitRelay(s *session, ev control.MediaEvent) {
	out := control.RelayEvent{StreamName: s.st.name}
	switch {
	case ev.Kind == control.EventState && (ev.State == control.StateClosed || ev.State == control.StateFailed):
		out.Closed, out.Info = true, ev.Info
	case ev.Kind == control.EventStreamEvent && ev.StreamEvent != nil:
		out.StreamEvent = ev.StreamEvent
	default:
		return
	}
	if err := bus.Publish(d.nc, control.MediaSubject(s.owner.SignalNode, control.OpRelayEvent), out); err != nil {
		s.log.Debug().Err(err).Msg("relay event")
	}
}

// relayKind maps a RelayCodec's kind back to pion's.
func relayKind(k string) webrtc.RTPCodecType {
	return webrtc.NewRTPCodecType(k)
}
