package mediad

import (
	"maps"
	"slices"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/forward"
)

// stream is one stream published on this daemon and the one owner of its state: the publisher's
// tracks and codecs (fixed when the publish is answered, before the stream is indexed, so they
// are read without a lock), its players and its mute state (under mu). Daemon.mu guards only the
// indexes that find a stream.
type stream struct {
	name   string
	pub    *session // nil for a relayed stream
	relay  *relay   // the relay feeding it, on an edge; nil on the origin
	tracks map[webrtc.RTPCodecType]*forward.Track
	codecs map[webrtc.RTPCodecType]webrtc.RTPCodecParameters
	ssrcs  map[webrtc.RTPCodecType]*uint32Box // the publisher's SSRC per kind, set by onTrack
	// ready is closed once tracks, codecs and ssrcs are built; pion may call OnTrack from its
	// own goroutine before that, so onTrack waits on it (happens-before).
	ready chan struct{}

	mu         sync.Mutex
	ended      bool
	players    map[string]*session // by owner key
	audioMuted bool
	videoMuted bool
}

func newStream(name string, pub *session) *stream {
	return &stream{name: name, pub: pub, tracks: map[webrtc.RTPCodecType]*forward.Track{},
		codecs: map[webrtc.RTPCodecType]webrtc.RTPCodecParameters{}, ssrcs: map[webrtc.RTPCodecType]*uint32Box{},
		ready: make(chan struct{}), players: map[string]*session{}}
}

// addPlayer adds p unless the stream has ended.
func (st *stream) addPlayer(p *session) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return false
	}
	st.players[p.key] = p
	return true
}

// removePlayer removes p and reports whether it was the last player of a stream still going.
func (st *stream) removePlayer(p *session) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.players[p.key] == p {
		delete(st.players, p.key)
		return !st.ended && len(st.players) == 0
	}
	return false
}

// endIfIdle ends the stream when it has no player (no player can join it afterwards) and reports
// whether it did: an edge's relay is stopped after its last player.
func (st *stream) endIfIdle() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended || len(st.players) > 0 {
		return false
	}
	st.ended = true
	return true
}

// directPlayers counts the players that are not relays to other daemons: what a stream's limit
// of players on its origin counts.
func (st *stream) directPlayers() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, p := range st.players {
		if !p.relay {
			n++
		}
	}
	return n
}

// playerList is a snapshot of the players, for fan-out outside the lock.
func (st *stream) playerList() []*session {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Collect(maps.Values(st.players))
}

// end marks the stream ended (no player joins any more) and hands back the players it had.
func (st *stream) end() []*session {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended = true
	out := slices.Collect(maps.Values(st.players))
	st.players = map[string]*session{}
	return out
}

// applyEvent keeps the mute state a late joiner is told in its PLAYING status (docs/protocol.md §B.10,
// §C.9); other event types leave it alone.
func (st *stream) applyEvent(typ string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch typ {
	case wcs.EventAudioMuted:
		st.audioMuted = true
	case wcs.EventAudioUnmuted:
		st.audioMuted = false
	case wcs.EventVideoMuted:
		st.videoMuted = true
	case wcs.EventVideoUnmuted:
		st.videoMuted = false
	}
}

func (st *stream) muted() (audio, video bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.audioMuted, st.videoMuted
}

// video is the published video track, nil for an audio-only stream.
func (st *stream) video() *forward.Track { return st.tracks[webrtc.RTPCodecTypeVideo] }

// close stops the publisher's tracks (their writers and Downs). Called once the readers ended.
func (st *stream) close() {
	for _, t := range st.tracks {
		t.Close()
	}
}

// addTrack gives the stream its track of kind, with the codec its players get; keyframe asks
// the track's source for a key frame (a publisher, an origin, a remote server), given the
// source's SSRC once its media has arrived. Called while the stream is built, before ready.
func (st *stream) addTrack(kind webrtc.RTPCodecType, params webrtc.RTPCodecParameters, m *forward.Metrics,
	keyframe func(ssrc uint32), onFormat func(w, h int)) {
	ssrc := &uint32Box{}
	st.codecs[kind], st.ssrcs[kind] = params, ssrc
	st.tracks[kind] = forward.NewTrack(forward.TrackConfig{
		Kind: kind, MimeType: params.MimeType, Metrics: m, OnFormat: onFormat,
		RequestKeyframe: func() {
			if v := ssrc.load(); v != 0 {
				keyframe(v)
			}
		},
	})
}

// source binds a remote track to the stream's track of its kind, once, and returns the track to
// run with it; nil for a track the stream did not expect (another kind, a second one).
func (st *stream) source(remote *webrtc.TrackRemote) *forward.Track {
	t, box := st.tracks[remote.Kind()], st.ssrcs[remote.Kind()]
	if t == nil || box == nil || !box.store(uint32(remote.SSRC())) {
		return nil
	}
	return t
}

// pliOn asks for key frames with a PLI on pc (a publisher's or an origin's peer connection).
func pliOn(pc *webrtc.PeerConnection) func(ssrc uint32) {
	return func(ssrc uint32) { _ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}) }
}
