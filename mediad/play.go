package mediad

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/forward"
	"github.com/potok-media/potok/mediad/rtc"
)

// handlePlay adds a player to a stream published on this node (docs/protocol.md §E.3, §E.7): a
// sendonly answer carrying only the publisher's codecs, with one msid stream id for audio and
// video (§H.3). Forwarding starts when the player's peer connection is up. A request naming
// another daemon as the stream's Origin is served from a relay of it (relay.go); past its limit
// of players per stream an origin answers control.ErrOriginFull unless the request Forces it.
func (d *Daemon) handlePlay(m *nats.Msg) any {
	var req control.PlayRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.PlayReply{Error: wcs.InfoFailedByError}
	}
	if req.MediaSessionID == "" {
		return control.PlayReply{Error: wcs.InfoMediaSessionIDNull}
	}
	if msg := d.precheck(req.Owner.Key(), "", false); msg != "" {
		return control.PlayReply{Error: msg}
	}
	if req.Origin != "" && req.Origin != d.cfg.NodeID {
		return d.playRelayed(req)
	}
	st := d.stream(req.StreamName)
	if st == nil {
		return control.PlayReply{Error: wcs.InfoStreamNotFound}
	}
	if max := d.cfg.MaxPlayersPerStream; max > 0 && !req.Force && st.directPlayers() >= max {
		return control.PlayReply{Error: control.ErrOriginFull}
	}
	s, answered, msg := d.servePlayer(req.Owner, st, req.Offer, req.Transport == "TCP", false)
	if msg != "" {
		return control.PlayReply{Error: msg}
	}
	reply := playReply(st, answered)
	s.log.Info().Str("audioCodec", reply.AudioCodec).Str("videoCodec", reply.VideoCodec).Msg("play answered")
	return reply
}

// servePlayer makes a player session of st for owner's offer and starts it; the message is the
// client info of a failure. A relay is the origin's side of a relay to another daemon: a player
// of every kind the stream has.
func (d *Daemon) servePlayer(owner control.Owner, st *stream, offer string, tcp, relay bool) (*session, *rtc.Answered, string) {
	parsed, err := rtc.ParseOffer(offer)
	if err != nil {
		d.log.Info().Err(err).Str("mediaSessionId", owner.MediaSessionID).Msg("play offer refused")
		return nil, nil, wcs.InfoFailedByError
	}
	codecs, ok := playCodecs(st, parsed)
	if !ok {
		return nil, nil, wcs.InfoNoCommonCodecs
	}
	s := d.newSession(owner, st.name, st)
	s.relay = relay
	if err := s.newPeer(rtc.PeerOptions{Codecs: codecs, TCP: tcp}); err != nil {
		s.log.Error().Err(err).Msg("play peer connection")
		s.discard()
		return nil, nil, wcs.InfoFailedByError
	}
	if err := s.addDownTracks(codecs); err != nil {
		s.log.Error().Err(err).Msg("play tracks")
		s.discard()
		return nil, nil, wcs.InfoFailedByError
	}
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	answered, err := rtc.Answer(ctx, s.pc, offer)
	if err != nil {
		s.log.Info().Err(err).Msg("play answer")
		s.discard()
		return nil, nil, wcs.InfoFailedByError
	}
	if msg := s.start(); msg != "" {
		s.discard()
		return nil, nil, msg
	}
	return s, answered, ""
}

// playReply is what the player is told with PLAYING: the kinds and codecs the answer accepted,
// the stream's mute state and its picture size.
func playReply(st *stream, a *rtc.Answered) control.PlayReply {
	reply := control.PlayReply{Answer: a.SDP}
	reply.AudioMuted, reply.VideoMuted = st.muted()
	if c, ok := a.Codecs[webrtc.RTPCodecTypeAudio]; ok {
		reply.HasAudio, reply.AudioCodec = true, rtc.WCSName(c.MimeType)
	}
	if c, ok := a.Codecs[webrtc.RTPCodecTypeVideo]; ok {
		reply.HasVideo, reply.VideoCodec = true, rtc.WCSName(c.MimeType)
		if t := st.video(); t != nil {
			reply.Width, reply.Height = t.Size()
		}
	}
	return reply
}

// playCodecs picks, per kind the player asks for, the publisher's codec; the player's offer must
// contain it since nothing is transcoded (else "No common codecs", docs/protocol.md §E.3).
func playCodecs(st *stream, offer *rtc.Offer) ([]rtc.Codec, bool) {
	var out []rtc.Codec
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		params, published := st.codecs[kind]
		m := offer.Kind(kind)
		if !published || m == nil || m.Direction == "sendonly" || m.Direction == "inactive" {
			continue
		}
		if !m.Supports(params.RTPCodecCapability) {
			return nil, false
		}
		out = append(out, rtc.CodecFor(kind, params))
	}
	return out, len(out) > 0
}

// addDownTracks adds the player's tracks before the offer is applied, so pion binds them to the
// offer's recvonly m-lines without renegotiation (docs/protocol.md §P.2), and starts their RTCP loops.
func (s *session) addDownTracks(codecs []rtc.Codec) error {
	streamID := "potok-" + s.id // one MediaStream for audio and video (§H.3)
	for _, c := range codecs {
		dt := forward.NewDownTrack(s.st.tracks[c.Kind], c.Kind.String(), streamID, c.Params.RTPCodecCapability)
		if s.relay {
			dt.SetRelay()
		}
		sender, err := s.pc.AddTrack(dt)
		if err != nil {
			return err
		}
		s.downs = append(s.downs, dt)
		s.goSession(func() {
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				dt.HandleRTCP(pkts)
			}
		})
	}
	return nil
}
