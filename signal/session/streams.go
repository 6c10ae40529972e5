package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/mediactl"
)

// InfoNoMediaNode is the FAILED info when no media daemon is alive. WCS has no such state (it is
// its own media server), so the text is Potok's own.
const InfoNoMediaNode = wcs.InfoNoMediaNode

// MaxStreamEventPayload bounds the payload of sendStreamEvent, which is copied to every subscriber.
const MaxStreamEventPayload = 16 << 10

// InfoStreamNameEmpty is the FAILED info for a publish without a name.
const InfoStreamNameEmpty = "Stream name is empty"

func isNoArgument(err error) bool { return errors.Is(err, wcs.ErrNoArgument) }

// checkNewID validates the client's mediaSessionId of a new publish/play (docs/protocol.md §B.4).
func (s *Session) checkNewID(req *wcs.StreamRequest, publish bool) bool {
	id := string(req.MediaSessionID)
	switch {
	case id == "":
		s.sendStreamFail("", string(req.Name), publish, wcs.InfoMediaSessionIDNull)
		return false
	case s.streams[id] != nil:
		s.sendStreamFail(id, string(req.Name), publish, wcs.InfoMediaSessionIDInUse)
		return false
	case len(s.streams) >= wcs.MaxMediaSessions:
		s.sendStreamFail(id, string(req.Name), publish, wcs.InfoTooManyMediaSessions)
		return false
	case len(req.Name) > wcs.MaxStreamNameBytes:
		s.sendStreamFail(id, "", publish, wcs.InfoStreamNameTooLong)
		return false
	case req.MediaProvider != "" && req.MediaProvider != providerWebRTC:
		// MSE and WSPlayer carry media over the WebSocket (§A.5), which Potok does not serve:
		// a clear FAILED rather than an offer-less request failing "by error".
		s.rejected(req, publish, wcs.InfoMediaProviderNotSupported+string(req.MediaProvider))
		return false
	}
	return true
}

const providerWebRTC = "WebRTC"

// rejected sends FAILED for a stream request that never became a media session.
func (s *Session) rejected(req *wcs.StreamRequest, publish bool, info string) {
	ms := newMediaSession(req, publish, time.Now())
	s.log.Info().Str("mediaSessionId", ms.id).Str("streamName", ms.name).Str("info", info).Msg("stream rejected")
	s.sendStatus(ms, wcs.StatusFailed, info)
}

// onPublishStream starts a publisher (docs/protocol.md §E.2, §E.6).
func (s *Session) onPublishStream(env wcs.Envelope) {
	var req wcs.StreamRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	if !s.checkNewID(&req, true) {
		return
	}
	if req.Name == "" {
		s.sendStreamFail(string(req.MediaSessionID), "", true, InfoStreamNameEmpty)
		return
	}
	if !s.approveStream(hooks.PublishStream, &req, true) {
		return
	}
	node, err := s.media.PickMediaNode()
	switch {
	case errors.Is(err, mediactl.ErrControlPlaneDown):
		s.log.Warn().Err(err).Msg("publish refused")
		s.rejected(&req, true, wcs.InfoControlPlaneDown)
		return
	case err != nil:
		s.log.Warn().Err(err).Msg("publish: no media node")
		s.rejected(&req, true, InfoNoMediaNode)
		return
	}
	now := time.Now()
	ms := newMediaSession(&req, true, now)
	ms.node = node
	rev, err := s.media.ClaimStream(s.ctx, control.StreamRecord{Name: ms.name, MediaNode: node,
		MediaSessionID: ms.id, SignalNode: s.cfg.NodeID, SessionID: s.cfg.SessionID, Created: now.UnixMilli()})
	switch {
	case errors.Is(err, mediactl.ErrNameInUse):
		s.rejected(&req, true, wcs.InfoStreamNameAlreadyInUse)
		return
	case errors.Is(err, mediactl.ErrControlPlaneDown):
		s.rejected(&req, true, wcs.InfoControlPlaneDown)
		return
	case err != nil:
		s.log.Error().Err(err).Msg("publish: claim stream name")
		s.rejected(&req, true, wcs.InfoFailedByError)
		return
	}
	ms.rev = rev
	s.add(ms, now)
	rep, err := s.media.Publish(s.ctx, node, control.PublishRequest{Owner: s.owner(ms.id), StreamName: ms.name,
		Offer: string(req.SDP), Transport: string(req.Transport), Record: bool(req.Record)})
	if err != nil {
		s.rpcFailed(ms, err)
		return
	}
	if rep.Error != "" {
		s.terminate(ms, wcs.StatusFailed, s.mediaInfo(rep.Error), false)
		return
	}
	ms.publishReply(rep)
	s.sendAnswer(ms, rep.Answer)
}

// onPlayStream starts a player of a published stream (docs/protocol.md §E.3, §E.7).
func (s *Session) onPlayStream(env wcs.Envelope) {
	var req wcs.StreamRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	if !s.checkNewID(&req, false) {
		return
	}
	if req.Name == "" {
		s.rejected(&req, false, wcs.InfoStreamNotFound)
		return
	}
	// The hook comes before the lookup: the backend may rename the stream (§F.6).
	if !s.approveStream(hooks.PlayStream, &req, false) {
		return
	}
	rec, err := s.media.LookupStream(s.ctx, string(req.Name))
	switch {
	case errors.Is(err, mediactl.ErrNotPublished):
		s.rejected(&req, false, wcs.InfoStreamNotFound)
		return
	case errors.Is(err, mediactl.ErrControlPlaneDown):
		s.rejected(&req, false, wcs.InfoControlPlaneDown)
		return
	case err != nil:
		s.log.Error().Err(err).Msg("play: look up stream")
		s.rejected(&req, false, wcs.InfoFailedByError)
		return
	}
	now := time.Now()
	ms := newMediaSession(&req, false, now)
	preq := control.PlayRequest{Owner: s.owner(ms.id), StreamName: ms.name, Offer: string(req.SDP),
		Transport: string(req.Transport)}
	ms.node = rec.MediaNode
	if pref := s.cfg.PreferMediad; pref != "" && pref != rec.MediaNode && s.media.MediaNodeAlive(pref) {
		ms.node, preq.Origin = pref, rec.MediaNode
	}
	s.add(ms, now)
	rep, err := s.media.Play(s.ctx, ms.node, preq)
	if err == nil && rep.Error == control.ErrOriginFull {
		rep, err = s.playRelayed(ms, preq, rec.MediaNode)
	}
	if err != nil {
		s.rpcFailed(ms, err)
		return
	}
	if rep.Error != "" {
		s.terminate(ms, wcs.StatusFailed, s.mediaInfo(rep.Error), false)
		return
	}
	ms.playReply(rep)
	s.sendAnswer(ms, rep.Answer)
}

// playRelayed places a player refused by its stream's full origin on another media daemon, which
// relays the stream from the origin; with no other daemon alive the origin takes it anyway.
func (s *Session) playRelayed(ms *mediaSession, req control.PlayRequest, origin string) (control.PlayReply, error) {
	if edge, err := s.media.PickRelayNode(origin); err == nil {
		ms.node, req.Origin = edge, origin
		s.log.Debug().Str("mediaSessionId", ms.id).Str("origin", origin).Str("mediaNode", edge).Msg("origin full: relayed")
	} else {
		req.Force = true
	}
	return s.media.Play(s.ctx, ms.node, req)
}

// sendAnswer sends setRemoteSDP, once per media session (docs/protocol.md §C.5). The status stays
// PENDING until the mediad reports the media connected.
func (s *Session) sendAnswer(ms *mediaSession, answer string) {
	if ms.answered {
		return
	}
	ms.answered = true
	s.send(wcs.MsgSetRemoteSDP, ms.id, answer, true)
	s.log.Debug().Str("mediaSessionId", ms.id).Msg("answer sent")
}

// rpcFailed resolves a media session whose request got no usable reply. If the session is ending
// the teardown resolves it instead. The daemon may have created the media session before the
// reply was lost, so it is stopped too.
func (s *Session) rpcFailed(ms *mediaSession, err error) {
	if s.ctx.Err() != nil {
		return
	}
	s.log.Error().Err(err).Str("mediaSessionId", ms.id).Str("mediaNode", ms.node).Msg("media request failed")
	info := wcs.InfoFailedByError
	if errors.Is(err, mediactl.ErrControlPlaneDown) { // the daemon cannot be reached over NATS now
		info = wcs.InfoControlPlaneDown
	}
	s.terminate(ms, wcs.StatusFailed, info, true)
}

// onStopStream handles unPublishStream and stopStream (§E.4, §E.5). The terminal status is sent
// also while PENDING: the SDK's "instant publish stop" needs UNPUBLISHED. Unknown ids are ignored.
func (s *Session) onStopStream(env wcs.Envelope) {
	id := streamIDOf(env)
	ms := s.streams[id]
	if ms == nil {
		s.log.Debug().Str("message", env.Message).Str("mediaSessionId", id).Msg("stop of unknown stream ignored")
		return
	}
	if ms.publisher {
		s.post(hooks.UnPublishStream, streamFields(ms.stream(ms.status, "")))
		s.terminate(ms, wcs.StatusUnpublished, wcs.InfoStoppedByPublisherStop, true)
		return
	}
	s.post(hooks.StopStream, streamFields(ms.stream(ms.status, "")))
	s.terminate(ms, wcs.StatusStopped, wcs.InfoStoppedByUser, true)
}

// onAvailableStream answers whether a stream is published (§C.10, §E.16); it creates nothing.
func (s *Session) onAvailableStream(env wcs.Envelope) {
	var req wcs.AvailableStreamRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	reply := wcs.AvailableStream{ID: string(req.MediaSessionID), Status: "true"}
	if req.Name == "" || len(req.Name) > wcs.MaxStreamNameBytes {
		reply.Status, reply.Info = "false", wcs.InfoStreamNotFound
	} else if _, err := s.media.LookupStream(s.ctx, string(req.Name)); err != nil {
		reply.Status, reply.Info = "false", wcs.InfoStreamNotFound
		if !errors.Is(err, mediactl.ErrNotPublished) {
			s.log.Error().Err(err).Msg("availableStream: look up stream")
			reply.Info = wcs.InfoFailedByError
		}
	}
	s.send(wcs.MsgAvailableStream, reply)
}

// onSendStreamEvent forwards a publisher's mute/data event to its mediad, which fans it out to the
// subscribers with their own mediaSessionIds (§B.10, §C.9).
func (s *Session) onSendStreamEvent(env wcs.Envelope) {
	var req wcs.SendStreamEventRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	ms := s.streams[string(req.MediaSessionID)]
	if ms == nil || !ms.publisher {
		s.log.Debug().Str("mediaSessionId", string(req.MediaSessionID)).Msg("sendStreamEvent for no publisher of this session")
		return
	}
	if len(req.Payload) > MaxStreamEventPayload {
		// Each subscriber gets a copy: an unbounded payload would let one publisher flood every
		// player's connection.
		s.sendFail("", fmt.Sprintf("Stream event payload too large: %d bytes, limit %d", len(req.Payload), MaxStreamEventPayload))
		return
	}
	res := s.invoke(hooks.SendStreamEvent, map[string]any{"mediaSessionId": ms.id, "type": string(req.Type),
		"payload": req.Payload})
	if proceed, _ := hooks.Decide(hooks.SendStreamEvent, res, s.hookCfg.Load()); !proceed {
		s.sendFail(hooks.SendStreamEvent, res.Info) // a WARN: the publisher's stream goes on
		return
	}
	ms.applyMute(string(req.Type))
	err := s.media.StreamEvent(s.ctx, ms.node, control.StreamEventRequest{Owner: s.owner(ms.id),
		Type: string(req.Type), Payload: req.Payload})
	if err != nil {
		s.log.Warn().Err(err).Str("mediaSessionId", ms.id).Msg("stream event not delivered")
	}
}

func (s *Session) owner(mediaSessionID string) control.Owner {
	return control.Owner{SignalNode: s.cfg.NodeID, SignalStarted: s.cfg.NodeStarted, SessionID: s.cfg.SessionID,
		MediaSessionID: mediaSessionID}
}
