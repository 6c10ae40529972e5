package wasmclient

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/potok-media/potok/api/wcs"
)

// InfoLocalError is the info of a stream failed on the client side (WebSDK ERROR_INFO.LOCAL_ERROR,
// docs/protocol.md §D.4); it is never sent by the server.
const InfoLocalError = "Local error"

// eventBuffer is the capacity of Events(); events are dropped, not blocked on, when it is full.
const eventBuffer = 256

// StreamEvent is one server message (or local change) concerning a stream.
type StreamEvent struct {
	Kind        string // the WCS message name, or "local" for a client-side status change
	At          time.Time
	Stream      wcs.Stream      // notifyStreamStatusEvent (and local): the full object
	VideoFormat wcs.VideoFormat // notifyVideoFormat
	Event       wcs.StreamEvent // notifyStreamEvent
	Rate        wcs.VideoRate   // inboundVideoRate / outboundVideoRate
	Fail        wcs.Fail        // fail with apiMethod StreamStatusEvent (Stream then holds the FAILED object)
}

// peer is the media side of a stream: peer.go implements it with pion, peer_js.go with the
// browser's RTCPeerConnection.
type peer interface {
	offer() string
	setAnswer(sdp string) error
	close()
	receiveStats() ReceiveStats
	sendStats() SendStats
	// mute stops or resumes sending kind ("audio", "video"); false when there is no such track.
	mute(kind string, muted bool) bool
}

// Stream is one publish or play (a media session keyed by its client-generated mediaSessionId).
type Stream struct {
	s         *Session
	id        string
	name      string
	published bool
	tcp       bool // ICE over TCP only (Transport "TCP")
	peer      peer
	closeOnce sync.Once
	events    chan StreamEvent

	mu          sync.Mutex
	status      string
	obj         wcs.Stream
	changed     chan struct{} // closed and replaced on every status change
	timeline    StreamTimeline
	videoFormat *wcs.VideoFormat
	streamEvts  []wcs.StreamEvent
	rates       []RateSample
	dropped     uint64
	remoteSDP   string
}

func newStream(s *Session, name string, published bool) *Stream {
	id := uuid.NewString()
	if v1, err := uuid.NewUUID(); err == nil { // the WebSDK uses UUID v1 (docs/protocol.md §H.1)
		id = v1.String()
	}
	return &Stream{
		s: s, id: id, name: name, published: published, status: wcs.StatusNew,
		changed: make(chan struct{}), events: make(chan StreamEvent, eventBuffer),
		obj: wcs.Stream{MediaSessionID: id, Name: name, Published: published, Status: wcs.StatusNew},
	}
}

// MediaSessionID is the client-generated id that keys every message of this stream.
func (st *Stream) MediaSessionID() string { return st.id }

// Name is the stream name.
func (st *Stream) Name() string { return st.name }

// Published reports whether this is a publish (true) or a play (false).
func (st *Stream) Published() bool { return st.published }

// Status is the current status (§D.3).
func (st *Stream) Status() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.status
}

// Info is the reason text of the last status (§D.4).
func (st *Stream) Info() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.obj.Info
}

// Object is the last full stream object received with a status event.
func (st *Stream) Object() wcs.Stream {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.obj
}

// Events delivers every message concerning the stream. It is buffered; when nobody reads,
// events are dropped (counted by DroppedEvents) rather than blocking the session.
func (st *Stream) Events() <-chan StreamEvent { return st.events }

// DroppedEvents counts events lost because Events() was full.
func (st *Stream) DroppedEvents() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.dropped
}

// Timeline returns the stream's timestamps.
func (st *Stream) Timeline() StreamTimeline {
	st.mu.Lock()
	t := st.timeline
	st.mu.Unlock()
	if st.published && t.FirstPacket.IsZero() {
		t.FirstPacket = st.peer.sendStats().firstSent()
	}
	return t
}

// VideoFormat is the last notifyVideoFormat received (ok=false if none).
func (st *Stream) VideoFormat() (wcs.VideoFormat, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.videoFormat == nil {
		return wcs.VideoFormat{}, false
	}
	return *st.videoFormat, true
}

// StreamEvents returns the notifyStreamEvent objects received.
func (st *Stream) StreamEvents() []wcs.StreamEvent {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.streamEvts)
}

// Rates returns the inboundVideoRate/outboundVideoRate messages received, oldest first.
func (st *Stream) Rates() []RateSample {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.rates)
}

// ReceiveStats are the player's media counters.
func (st *Stream) ReceiveStats() ReceiveStats { return st.peer.receiveStats() }

// SendStats are the publisher's media counters.
func (st *Stream) SendStats() SendStats { return st.peer.sendStats() }

// IsTerminal reports whether status ends a stream (§D.3).
func IsTerminal(status string) bool {
	return status == wcs.StatusFailed || status == wcs.StatusStopped || status == wcs.StatusUnpublished
}

// WaitStatus waits until the stream is in one of statuses, or terminal. It returns the stream
// object; the error is a *StatusError when a terminal status not asked for was reached, or the
// context's error.
func (st *Stream) WaitStatus(ctx context.Context, statuses ...string) (wcs.Stream, error) {
	for {
		st.mu.Lock()
		obj, ch := st.obj, st.changed
		st.mu.Unlock()
		if slices.Contains(statuses, obj.Status) {
			return obj, nil
		}
		if IsTerminal(obj.Status) {
			return obj, &StatusError{Status: obj.Status, Info: obj.Info}
		}
		select {
		case <-ctx.Done():
			return obj, fmt.Errorf("wasmclient: stream %s waiting for %v in %s: %w", st.id, statuses, obj.Status, ctx.Err())
		case <-ch:
		}
	}
}

// Stop ends the stream as the WebSDK's stream.stop() does (docs/protocol.md §H.4, §E.4, §E.5): while
// PENDING it waits for the server to resolve the stream, then sends unPublishStream or stopStream,
// closes the peer connection at once and waits for the terminal status.
func (st *Stream) Stop(ctx context.Context) error {
	obj, err := st.WaitStatus(ctx, wcs.StatusPublishing, wcs.StatusPlaying)
	if IsTerminal(obj.Status) {
		return nil
	}
	if err != nil {
		return err
	}
	msg := wcs.MsgStopStream
	if st.published {
		msg = wcs.MsgUnPublishStream
	}
	req := stopRequest{
		MediaSessionID: st.id, Name: st.name, Published: st.published,
		HasVideo: true, HasAudio: true, Status: obj.Status,
	}
	sendErr := st.s.send(ctx, msg, req)
	st.closePeer()
	if sendErr != nil {
		st.localEnd(wcs.StatusFailed, InfoLocalError)
		return sendErr
	}
	_, err = st.WaitStatus(ctx, wcs.StatusStopped, wcs.StatusUnpublished, wcs.StatusFailed)
	return err
}

// setStatus records a status change and wakes waiters. It returns false when the stream was
// already terminal (the WebSDK forgets the id then, so later messages are ignored).
func (st *Stream) setStatus(obj wcs.Stream, ev StreamEvent) bool {
	st.mu.Lock()
	if IsTerminal(st.status) {
		st.mu.Unlock()
		return false
	}
	now := time.Now()
	st.status, st.obj = obj.Status, obj
	switch {
	case obj.Status == wcs.StatusPublishing || obj.Status == wcs.StatusPlaying:
		if st.timeline.Active.IsZero() {
			st.timeline.Active = now
		}
	case IsTerminal(obj.Status):
		st.timeline.Ended = now
	}
	close(st.changed)
	st.changed = make(chan struct{})
	st.mu.Unlock()
	ev.At, ev.Stream = now, obj
	st.emit(ev)
	if IsTerminal(obj.Status) {
		st.s.removeStream(st.id)
		st.closePeer()
	}
	return true
}

// localEnd makes the stream terminal on the client side (socket lost, local media error).
func (st *Stream) localEnd(status, info string) {
	st.mu.Lock()
	obj := st.obj
	st.mu.Unlock()
	obj.Status, obj.Info = status, info
	st.setStatus(obj, StreamEvent{Kind: "local"})
}

func (st *Stream) closePeer() {
	st.closeOnce.Do(func() {
		if !st.s.group.Go(st.peer.close) {
			st.peer.close()
		}
	})
}

func (st *Stream) emit(e StreamEvent) {
	select {
	case st.events <- e:
	default:
		st.mu.Lock()
		st.dropped++
		st.mu.Unlock()
	}
}

func (st *Stream) onRemoteSDP(sdp string) {
	if st.tcp {
		sdp = tcpCandidatesOnly(sdp)
	}
	if err := st.peer.setAnswer(sdp); err != nil {
		st.s.log.Warn().Err(err).Str("mediaSessionId", st.id).Msg("remote SDP rejected")
		st.localEnd(wcs.StatusFailed, InfoLocalError)
		return
	}
	st.mu.Lock()
	st.timeline.RemoteSDP = time.Now()
	st.remoteSDP = sdp
	st.mu.Unlock()
}

// RemoteSDP is the server's SDP answer as applied, "" before it came: what a caller taking the
// tracks over (PlayOptions.OnTrack) learns the negotiated codecs from.
func (st *Stream) RemoteSDP() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.remoteSDP
}

// deprecatedStatuses do not change the SDK's stream status (docs/protocol.md §C.6, §H.4).
var deprecatedStatuses = []string{"RESIZE", "SNAPSHOT_COMPLETE", "NOT_ENOUGH_BANDWIDTH", "STREAM_EVENT"}

func (st *Stream) onStatus(obj wcs.Stream) {
	if slices.Contains(deprecatedStatuses, obj.Status) {
		st.emit(StreamEvent{Kind: wcs.MsgNotifyStreamStatusEvent, At: time.Now(), Stream: obj})
		return
	}
	st.setStatus(obj, StreamEvent{Kind: wcs.MsgNotifyStreamStatusEvent})
}

func (st *Stream) onFail(f wcs.Fail) {
	st.mu.Lock()
	obj := st.obj
	st.mu.Unlock()
	obj.Status, obj.Info = wcs.StatusFailed, f.Info
	st.setStatus(obj, StreamEvent{Kind: wcs.MsgFail, Fail: f})
}

func (st *Stream) onVideoFormat(v wcs.VideoFormat) {
	st.mu.Lock()
	st.videoFormat = &v
	st.mu.Unlock()
	st.emit(StreamEvent{Kind: wcs.MsgNotifyVideoFormat, At: time.Now(), VideoFormat: v})
}

func (st *Stream) onStreamEvent(e wcs.StreamEvent) {
	st.mu.Lock()
	if len(st.streamEvts) < maxRateSamples {
		st.streamEvts = append(st.streamEvts, e)
	}
	st.mu.Unlock()
	st.emit(StreamEvent{Kind: wcs.MsgNotifyStreamEvent, At: time.Now(), Event: e})
}

func (st *Stream) onRate(kind string, r wcs.VideoRate) {
	now := time.Now()
	st.mu.Lock()
	if len(st.rates) >= maxRateSamples {
		st.rates = st.rates[1:]
	}
	st.rates = append(st.rates, RateSample{At: now, Rate: r})
	st.mu.Unlock()
	st.emit(StreamEvent{Kind: kind, At: now, Rate: r})
}

// markConnected and markFirstPacket are called by the peer.
func (st *Stream) markConnected() {
	st.mu.Lock()
	if st.timeline.Connected.IsZero() {
		st.timeline.Connected = time.Now()
	}
	st.mu.Unlock()
}

func (st *Stream) markFirstPacket(t time.Time) {
	st.mu.Lock()
	if st.timeline.FirstPacket.IsZero() {
		st.timeline.FirstPacket = t
	}
	st.mu.Unlock()
}

// peerFailed is called by the peer when its connection fails: local FAILED like the WebSDK.
func (st *Stream) peerFailed() { st.localEnd(wcs.StatusFailed, InfoLocalError) }

// Publish starts publishing (docs/protocol.md §E.2): a peer connection with sendonly tracks, an offer
// without candidates, publishStream. It returns once the request is sent; wait for PUBLISHING
// with WaitStatus. Media flows from the sources once the peer connection is up.
func (s *Session) Publish(ctx context.Context, o PublishOptions) (*Stream, error) {
	if o.Name == "" || (o.Video == nil && o.Audio == nil) {
		return nil, fmt.Errorf("%w: publish needs a name and at least one source", ErrBadOptions)
	}
	tcp, err := transportTCP(o.Transport)
	if err != nil {
		return nil, err
	}
	st := newStream(s, o.Name, true)
	st.tcp = tcp
	p, err := newPublishPeer(st, o)
	if err != nil {
		return nil, err
	}
	st.peer = p
	req := streamRequest{
		MediaSessionID: st.id, Name: o.Name, Published: true,
		HasVideo: o.Video != nil, HasAudio: o.Audio != nil, Status: wcs.StatusPending,
		Record: o.Record, MediaProvider: "WebRTC", SDP: p.offer(), Custom: o.Custom,
		MinBitrate: o.MinBitrate, MaxBitrate: o.MaxBitrate, Transport: transportName(tcp, o.Transport),
	}
	if err := s.start(ctx, st, wcs.MsgPublishStream, req); err != nil {
		return nil, err
	}
	return st, nil
}

// Play starts playing (docs/protocol.md §E.3): recvonly video and audio transceivers, playStream.
func (s *Session) Play(ctx context.Context, o PlayOptions) (*Stream, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("%w: play needs a name", ErrBadOptions)
	}
	tcp, err := transportTCP(o.Transport)
	if err != nil {
		return nil, err
	}
	st := newStream(s, o.Name, false)
	st.tcp = tcp
	p, err := newPlayPeer(st, o)
	if err != nil {
		return nil, err
	}
	st.peer = p
	zero := 0
	req := streamRequest{
		MediaSessionID: st.id, Name: o.Name, Published: false,
		HasVideo: true, HasAudio: true, Status: wcs.StatusPending, // hard-coded in the SDK (§B.5)
		Width: &o.Width, Height: &o.Height, Quality: &zero,
		MediaProvider: "WebRTC", SDP: p.offer(), Custom: o.Custom, Transport: transportName(tcp, o.Transport),
	}
	if err := s.start(ctx, st, wcs.MsgPlayStream, req); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Session) start(ctx context.Context, st *Stream, msg string, req streamRequest) error {
	if err := s.addStream(st); err != nil {
		st.peer.close()
		return err
	}
	st.mu.Lock()
	st.status, st.obj.Status = wcs.StatusPending, wcs.StatusPending
	st.timeline.Requested = time.Now()
	st.mu.Unlock()
	if err := s.send(ctx, msg, req); err != nil {
		s.removeStream(st.id)
		st.localEnd(wcs.StatusFailed, InfoLocalError)
		return err
	}
	return nil
}
