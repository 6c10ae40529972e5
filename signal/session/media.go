package session

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/metrics"
)

// mediaSession is one publish or play of this session, keyed by the client's mediaSessionId.
type mediaSession struct {
	id        string
	name      string
	publisher bool
	node      string // mediad holding it
	rev       uint64 // revision of our stream-name claim (publishers)
	req       wcs.StreamRequest
	created   time.Time
	deadline  time.Time // watchdog, while PENDING
	status    string
	answered  bool

	hasAudio, hasVideo     bool
	audioCodec, videoCodec string
	audioMuted, videoMuted bool
	width, height          int
	rate                   *control.Rate // the last second reported (REST metrics)
}

func newMediaSession(req *wcs.StreamRequest, publisher bool, now time.Time) *mediaSession {
	kept := *req
	kept.SDP = "" // the offer goes to the mediad once; it is not kept for the session's life
	return &mediaSession{
		id: string(req.MediaSessionID), name: string(req.Name), publisher: publisher, req: kept,
		created: now, status: wcs.StatusPending,
		hasAudio: bool(req.HasAudio), hasVideo: bool(req.HasVideo),
		width: int(req.Width), height: int(req.Height),
	}
}

// statusLabel is the status label of potok_signal_streams for the session's status now.
func (ms *mediaSession) statusLabel() string {
	if ms.status == wcs.StatusPending {
		return metrics.StreamPending
	}
	return metrics.StreamLive
}

func (ms *mediaSession) kind() string {
	if ms.publisher {
		return metrics.KindPublish
	}
	return metrics.KindPlay
}

// publishReply records what the daemon accepted: media presence comes from the answer, not from the
// client's flags (docs/protocol.md §H.3).
func (ms *mediaSession) publishReply(rep control.PublishReply) {
	ms.audioCodec, ms.videoCodec = rep.AudioCodec, rep.VideoCodec
	ms.hasAudio, ms.hasVideo = rep.HasAudio, rep.HasVideo
}

func (ms *mediaSession) playReply(rep control.PlayReply) {
	ms.audioCodec, ms.videoCodec = rep.AudioCodec, rep.VideoCodec
	ms.hasAudio, ms.hasVideo = rep.HasAudio, rep.HasVideo
	ms.audioMuted, ms.videoMuted = rep.AudioMuted, rep.VideoMuted
	if rep.Width > 0 && rep.Height > 0 {
		ms.width, ms.height = rep.Width, rep.Height
	}
}

func (ms *mediaSession) applyMute(typ string) {
	switch typ {
	case wcs.EventAudioMuted, wcs.EventAudioUnmuted:
		ms.audioMuted = typ == wcs.EventAudioMuted
	case wcs.EventVideoMuted, wcs.EventVideoUnmuted:
		ms.videoMuted = typ == wcs.EventVideoMuted
	}
}

// stream builds the Stream object of notifyStreamStatusEvent (docs/protocol.md §C.6).
func (ms *mediaSession) stream(status, info string) wcs.Stream {
	provider := string(ms.req.MediaProvider)
	if provider == "" {
		provider = providerWebRTC
	}
	return wcs.Stream{
		MediaSessionID: ms.id, Name: ms.name, Published: ms.publisher,
		HasAudio: ms.hasAudio, HasVideo: ms.hasVideo, Status: status, Info: info,
		AudioCodec: ms.audioCodec, VideoCodec: ms.videoCodec,
		// Recording does not exist yet: a record:true publish is told it is not recorded.
		Record: false,
		Width:  ms.width, Height: ms.height,
		Bitrate: int(ms.req.Bitrate), MinBitrate: int(ms.req.MinBitrate), MaxBitrate: int(ms.req.MaxBitrate),
		Quality: int(ms.req.Quality), CreateDate: ms.created.UnixMilli(), MediaProvider: provider,
		AudioState: &wcs.MuteState{Muted: ms.audioMuted}, VideoState: &wcs.MuteState{Muted: ms.videoMuted},
		Custom: validJSON(ms.req.Custom),
	}
}

func validJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || !json.Valid(raw) {
		return nil
	}
	return raw
}

// add registers a media session that is about to be requested from a mediad.
func (s *Session) add(ms *mediaSession, now time.Time) {
	ms.deadline = now.Add(s.cfg.MediaTimeout)
	s.streams[ms.id] = ms
	s.m.MediaSessions.WithLabelValues(ms.kind()).Inc()
	s.m.Streams.WithLabelValues(ms.kind(), ms.statusLabel()).Inc()
	s.log.Info().Str("mediaSessionId", ms.id).Str("streamName", ms.name).Str("mediaNode", ms.node).
		Bool("publisher", ms.publisher).Msg("media session started")
}

// terminate gives a media session its one terminal status: optionally stop it at its mediad,
// release its stream name, then tell the client. After this the id is forgotten, as in the SDK.
func (s *Session) terminate(ms *mediaSession, status, info string, stop bool) {
	s.drop(ms, stop, stopInfo(ms, info))
	s.sendStatus(ms, status, info)
	s.log.Info().Str("mediaSessionId", ms.id).Str("status", status).Str("info", info).Msg("media session ended")
}

// stopInfo is the reason a mediad passes on to the players of a stopped publisher: they get FAILED
// "Stopped by publisher stop" (docs/protocol.md §E.4, §I.1).
func stopInfo(ms *mediaSession, info string) string {
	if ms.publisher {
		return wcs.InfoStoppedByPublisherStop
	}
	return info
}

// drop forgets a media session and frees what it holds, without sending anything.
func (s *Session) drop(ms *mediaSession, stop bool, info string) {
	if s.streams[ms.id] != ms {
		return
	}
	delete(s.streams, ms.id)
	s.m.MediaSessions.WithLabelValues(ms.kind()).Dec()
	s.m.Streams.WithLabelValues(ms.kind(), ms.statusLabel()).Dec()
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	if stop {
		err := s.media.Stop(ctx, ms.node, control.StopRequest{Owner: s.owner(ms.id), Info: info})
		if err != nil {
			s.log.Debug().Err(err).Str("mediaSessionId", ms.id).Msg("stop at mediad")
		}
	}
	s.release(ctx, ms)
}

func (s *Session) release(ctx context.Context, ms *mediaSession) {
	if !ms.publisher || ms.rev == 0 {
		return
	}
	if err := s.media.ReleaseStream(ctx, ms.name, ms.rev); err != nil {
		s.log.Warn().Err(err).Str("streamName", ms.name).Msg("release stream name")
	}
	ms.rev = 0
}

// handleEvent applies one mediad event to the media session it names.
func (s *Session) handleEvent(ev control.MediaEvent) {
	if ev.Kind == control.EventState && s.cfg.Draining != nil && s.cfg.Draining.Load() {
		return
	}
	if c := s.sipCalls[ev.MediaSessionID]; c != nil && ev.SessionID == s.cfg.SessionID {
		s.onCallEvent(c, ev)
		return
	}
	ms := s.streams[ev.MediaSessionID]
	if ms == nil || ev.SessionID != s.cfg.SessionID {
		s.log.Debug().Str("mediaSessionId", ev.MediaSessionID).Str("kind", ev.Kind).Msg("event for no live media session")
		return
	}
	switch ev.Kind {
	case control.EventState:
		s.onState(ms, ev)
	case control.EventRate:
		s.onRate(ms, ev)
	case control.EventFormat:
		s.onFormat(ms, ev.Width, ev.Height)
	case control.EventStreamEvent:
		if ev.StreamEvent != nil && !ms.publisher {
			ms.applyMute(ev.StreamEvent.Type)
			se := wcs.StreamEvent{MediaSessionID: ms.id, Type: ev.StreamEvent.Type, Payload: validJSON(ev.StreamEvent.Payload)}
			s.sendClient(wcs.MsgNotifyStreamEvent, hooks.StreamEvent, se)
			s.post(hooks.StreamEvent, map[string]any{"mediaSessionId": se.MediaSessionID, "type": se.Type,
				"payload": se.Payload})
		}
	}
}

func (s *Session) onState(ms *mediaSession, ev control.MediaEvent) {
	switch ev.State {
	case control.StateConnected:
		if ms.status != wcs.StatusPending || !ms.answered {
			return
		}
		s.m.Streams.WithLabelValues(ms.kind(), metrics.StreamPending).Dec()
		if ms.publisher {
			ms.status = wcs.StatusPublishing
		} else {
			ms.status = wcs.StatusPlaying
		}
		s.m.Streams.WithLabelValues(ms.kind(), metrics.StreamLive).Inc()
		s.sendStatus(ms, ms.status, "")
		s.m.StreamSetup.WithLabelValues(ms.kind()).Observe(time.Since(ms.created).Seconds())
		s.log.Info().Str("mediaSessionId", ms.id).Str("status", ms.status).Msg("media connected")
		if !ms.publisher {
			s.sendResize(ms)
		}
	case control.StateFailed, control.StateClosed:
		// The daemon has ended it already. Players of a stopped publisher carry "Stopped by
		// publisher stop" in Info (§E.4, §I.1).
		info := s.mediaInfo(ev.Info)
		if info == "" {
			info = wcs.InfoFailedByError
		}
		s.terminate(ms, wcs.StatusFailed, info, false)
	}
}

// onRate forwards one second of statistics (§C.18): inbound for publishers, outbound for players.
func (s *Session) onRate(ms *mediaSession, ev control.MediaEvent) {
	if ev.Rate == nil || ms.status == wcs.StatusPending {
		return
	}
	msg := wcs.MsgOutboundVideoRate
	if ms.publisher {
		msg = wcs.MsgInboundVideoRate
	}
	r := ev.Rate
	ms.rate = r
	s.send(msg, wcs.VideoRate{MediaSessionID: ms.id, VideoRate: r.VideoRate, FPS: r.FPS, NACK: r.NACK, PLI: r.PLI,
		LostPackets: r.LostPackets, Width: r.Width, Height: r.Height})
}

func (s *Session) onFormat(ms *mediaSession, w, h int) {
	if w <= 0 || h <= 0 || w == ms.width && h == ms.height {
		return
	}
	ms.width, ms.height = w, h
	if !ms.publisher && ms.status == wcs.StatusPlaying {
		s.sendResize(ms)
	}
}

// sendResize tells a player the published picture size: notifyVideoFormat RESIZE and the resize
// stream event (docs/protocol.md §C.7, §C.9).
func (s *Session) sendResize(ms *mediaSession) {
	if ms.width <= 0 || ms.height <= 0 {
		return
	}
	s.send(wcs.MsgNotifyVideoFormat, wcs.VideoFormat{MediaSessionID: ms.id, Status: wcs.StatusResize,
		StreamerVideoWidth: ms.width, StreamerVideoHeight: ms.height})
	payload, _ := json.Marshal(map[string]int{"streamerVideoWidth": ms.width, "streamerVideoHeight": ms.height})
	s.send(wcs.MsgNotifyStreamEvent, wcs.StreamEvent{MediaSessionID: ms.id, Type: wcs.EventResize, Payload: payload})
}

// onNodeDown fails the media sessions held by a daemon that died (node "" = all of them, the
// control plane is lost); their names are released so the stream can be published again
// elsewhere.
func (s *Session) onNodeDown(node, info string) {
	for _, ms := range s.sorted() {
		if node == "" || ms.node == node {
			s.terminate(ms, wcs.StatusFailed, info, false)
		}
	}
}

// endStream terminates one media session FAILED with info and stops it at its mediad.
func (s *Session) endStream(id, info string) {
	if ms := s.streams[id]; ms != nil {
		s.terminate(ms, wcs.StatusFailed, info, true)
	}
}

// armWatchdog points the timer at the earliest deadline of a PENDING media session.
func (s *Session) armWatchdog(t *time.Timer) {
	var next time.Time
	for _, ms := range s.streams {
		if ms.status == wcs.StatusPending && (next.IsZero() || ms.deadline.Before(next)) {
			next = ms.deadline
		}
	}
	if next.IsZero() {
		t.Stop()
		return
	}
	t.Reset(time.Until(next))
}

// expirePending fails media sessions that never connected: no stream may stay PENDING (§0 rule 10).
func (s *Session) expirePending(now time.Time) {
	for _, ms := range s.sorted() {
		if ms.status == wcs.StatusPending && !now.Before(ms.deadline) {
			s.log.Warn().Str("mediaSessionId", ms.id).Msg("media session not connected in time")
			s.terminate(ms, wcs.StatusFailed, wcs.InfoICETimeout, true)
		}
	}
}

func (s *Session) sorted() []*mediaSession {
	out := make([]*mediaSession, 0, len(s.streams))
	for _, ms := range s.streams {
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

// teardown ends every media session of a session that is going away (docs/protocol.md §E.8). With
// notify (server shutdown, socket still open) each gets its terminal status first. Media is
// stopped in parallel so one slow daemon does not hold up the rest.
func (s *Session) teardown(notify bool) {
	if notify {
		for _, c := range s.sipCalls {
			s.send(wcs.MsgFinish, c.object(wcs.CallFinish, wcs.InfoNormalCallClearing, 0))
		}
	}
	s.endCalls()
	all := s.sorted()
	if notify {
		for _, ms := range all {
			status := wcs.StatusStopped
			if ms.publisher {
				status = wcs.StatusUnpublished
			}
			s.sendStatus(ms, status, wcs.InfoStoppedBySessionDisconn)
		}
	}
	var wg sync.WaitGroup
	for _, ms := range all {
		info := wcs.InfoStoppedBySessionDisconn
		if ms.publisher {
			info = wcs.InfoStoppedByPublisherStop
		}
		wg.Go(func() { s.stopDetached(ms, info) })
	}
	wg.Wait()
	for _, ms := range all {
		delete(s.streams, ms.id)
		s.m.MediaSessions.WithLabelValues(ms.kind()).Dec()
		s.m.Streams.WithLabelValues(ms.kind(), ms.statusLabel()).Dec()
	}
	s.log.Info().Int("mediaSessions", len(all)).Bool("notified", notify).Msg("session ended")
}

// stopDetached stops one media session at its mediad and releases its name; it touches no session
// state, so teardown can run several at once.
func (s *Session) stopDetached(ms *mediaSession, info string) {
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	if err := s.media.Stop(ctx, ms.node, control.StopRequest{Owner: s.owner(ms.id), Info: info}); err != nil {
		s.log.Debug().Err(err).Str("mediaSessionId", ms.id).Msg("stop at mediad")
	}
	if ms.publisher && ms.rev != 0 {
		if err := s.media.ReleaseStream(ctx, ms.name, ms.rev); err != nil {
			s.log.Warn().Err(err).Str("streamName", ms.name).Msg("release stream name")
		}
	}
}

// mediaInfo is an info text that came over the control plane, as a client may see it: one of
// WCS's or Potok's own strings, else "Failed by error" (nothing free-form from NATS reaches a
// client, docs/protocol.md §D.4).
func (s *Session) mediaInfo(info string) string {
	if wcs.KnownInfo(info) {
		return info
	}
	s.log.Warn().Str("info", info).Msg("unknown info text from the control plane replaced")
	return wcs.InfoFailedByError
}
