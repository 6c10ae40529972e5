package mediad

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/rtc"
)

// handlePublish accepts a publisher's offer (docs/protocol.md §E.2): recvonly answer with our
// candidates, one forward.Track per received kind, indexed by stream name for players.
func (d *Daemon) handlePublish(m *nats.Msg) any {
	var req control.PublishRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.PublishReply{Error: wcs.InfoFailedByError}
	}
	if req.MediaSessionID == "" {
		return control.PublishReply{Error: wcs.InfoMediaSessionIDNull}
	}
	if msg := d.precheck(req.Owner.Key(), req.StreamName, true); msg != "" {
		return control.PublishReply{Error: msg}
	}
	offer, err := rtc.ParseOffer(req.Offer)
	if err != nil {
		d.log.Info().Err(err).Str("mediaSessionId", req.MediaSessionID).Msg("publish offer refused")
		return control.PublishReply{Error: wcs.InfoFailedByError}
	}
	if !offersAny(offer, rtc.PublishCodecs()) {
		return control.PublishReply{Error: wcs.InfoNoCommonCodecs}
	}
	s := d.newSession(req.Owner, req.StreamName, nil)
	if err := s.newPeer(rtc.PeerOptions{Codecs: rtc.PublishCodecs(), TCP: req.Transport == "TCP"}); err != nil {
		s.log.Error().Err(err).Msg("publish peer connection")
		s.discard()
		return control.PublishReply{Error: wcs.InfoFailedByError}
	}
	reply, err := s.answerPublish(req.Offer)
	if err != nil {
		s.log.Info().Err(err).Msg("publish answer")
		s.discard()
		return control.PublishReply{Error: reply.Error}
	}
	if msg := s.start(); msg != "" {
		s.discard()
		return control.PublishReply{Error: msg}
	}
	s.log.Info().Str("audioCodec", reply.AudioCodec).Str("videoCodec", reply.VideoCodec).Msg("publish answered")
	return reply
}

// precheck refuses ids and names in use before any work (index checks again, atomically).
func (d *Daemon) precheck(key, stream string, publish bool) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return wcs.InfoFailedByError
	case d.sessions[key] != nil:
		return wcs.InfoMediaSessionIDInUse
	case publish && d.streams[stream] != nil:
		return wcs.InfoStreamNameAlreadyInUse
	}
	return ""
}

// offersAny reports whether some m-line offers a codec we can receive.
func offersAny(o *rtc.Offer, codecs []rtc.Codec) bool {
	for _, c := range codecs {
		for i := range o.Media {
			if m := &o.Media[i]; m.Kind == c.Kind && m.Supports(c.Params.RTPCodecCapability) {
				return true
			}
		}
	}
	return false
}

// answerPublish answers the offer and builds one track per accepted kind, with the codec the
// browser will send: the first of our answer. Players get exactly that one.
func (s *session) answerPublish(offer string) (control.PublishReply, error) {
	defer close(s.st.ready)
	s.pc.OnTrack(s.onTrack)
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	answered, err := rtc.Answer(ctx, s.pc, offer)
	if err != nil {
		return control.PublishReply{Error: wcs.InfoFailedByError}, err
	}
	reply := control.PublishReply{Answer: answered.SDP}
	for kind, params := range answered.Codecs {
		name := rtc.WCSName(params.MimeType)
		if kind == webrtc.RTPCodecTypeAudio {
			reply.HasAudio, reply.AudioCodec = true, name
		} else {
			reply.HasVideo, reply.VideoCodec = true, name
		}
		s.addTrack(kind, params)
	}
	if len(s.st.tracks) == 0 {
		return control.PublishReply{Error: wcs.InfoNoCommonCodecs}, errNoMedia
	}
	return reply, nil
}

func (s *session) addTrack(kind webrtc.RTPCodecType, params webrtc.RTPCodecParameters) {
	st := s.st
	st.addTrack(kind, params, s.d.met.forward, pliOn(s.pc), func(w, h int) { s.d.onFormat(st, w, h) })
	s.d.met.publishedTracks.Inc()
}

// onTrack starts the reader of a published track when its first packet arrives.
func (s *session) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	select {
	case <-s.st.ready:
	case <-s.ctx.Done():
		return
	}
	t := s.st.source(remote)
	if t == nil {
		s.log.Warn().Str("kind", remote.Kind().String()).Msg("unexpected track ignored")
		return
	}
	if got := remote.Codec().MimeType; !equalFold(got, t.MimeType()) {
		s.log.Warn().Str("sent", got).Str("answered", t.MimeType()).Msg("publisher codec differs from answer")
	}
	s.log.Debug().Str("kind", remote.Kind().String()).Uint32("ssrc", uint32(remote.SSRC())).Msg("track started")
	s.goSession(func() { t.Run(remote) })
}

// onFormat tells every player the published picture size (docs/protocol.md §C.7). Called from the
// video track's reader.
func (d *Daemon) onFormat(st *stream, w, h int) {
	d.log.Info().Str("streamName", st.name).Int("width", w).Int("height", h).Msg("picture size")
	for _, p := range st.playerList() {
		d.emit(p, control.MediaEvent{Kind: control.EventFormat, Width: w, Height: h})
	}
}

// handleStreamEvent fans a publisher's stream event out to its players and keeps the mute state
// for late joiners (docs/protocol.md §B.10, §C.9).
func (d *Daemon) handleStreamEvent(m *nats.Msg) any {
	var req control.StreamEventRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.StopReply{Error: "bad request: " + err.Error()}
	}
	pub := d.session(req.Owner.Key())
	if pub == nil || !pub.publisher {
		return control.StopReply{Error: wcs.InfoStreamNotFound}
	}
	pub.st.applyEvent(req.Type)
	ev := &control.StreamEventMsg{Type: req.Type, Payload: req.Payload}
	for _, p := range pub.st.playerList() {
		d.emit(p, control.MediaEvent{Kind: control.EventStreamEvent, StreamEvent: ev})
	}
	return control.StopReply{}
}
