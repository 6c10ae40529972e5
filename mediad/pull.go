package mediad

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/mediad/rtc"
	"github.com/potok-media/potok/wasmclient"
)

// pull is a stream of another WCS-protocol server published here (the REST API's /pull/pull):
// the daemon plays it there as a WebSDK client would — our own client, wasmclient, whose remote
// tracks feed a local stream — and this daemon's players attach to that stream as to a
// publisher's. It is the shape of a relay (relay.go) whose origin is reached over the WCS
// protocol instead of the control plane. The signal node that owns it (req.Owner) holds the
// stream's name in the directory; the pull tells it when it ends.
type pull struct {
	d   *Daemon
	req control.PullRequest
	key string // req.Owner.Key(): how the daemon indexes it
	log zerolog.Logger
	st  *stream

	ready chan struct{} // closed once set up; err says whether it worked
	err   error
	done  chan struct{} // closed once torn down

	ctx    context.Context // cancelled by end, or by the daemon's Close
	cancel context.CancelFunc
	sess   *wasmclient.Session // set by setup; owned by run
	play   *wasmclient.Stream  // the remote play; read by others only after ready
	// receivers are where a key frame request for each kind goes back to the remote server:
	// filled by onTrack, built with the tracks.
	receivers map[webrtc.RTPCodecType]*atomic.Pointer[webrtc.RTPReceiver]

	ended atomic.Bool
	info  string // why it ended (what its players are told); written before cancel
	told  bool   // the owner knows already (it asked, or the setup failed): no event to send
}

// pullSetupTimeout bounds connecting to the remote server and its answering the play. It is
// shorter than the owner's request timeout, so that the owner hears why rather than a timeout.
const pullSetupTimeout = control.RequestTimeout * 4 / 5

// handlePull starts a pull and answers once it plays (or could not).
func (d *Daemon) handlePull(m *nats.Msg) any {
	var req control.PullRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.PullReply{Error: "bad request: " + err.Error()}
	}
	if req.URI == "" || req.RemoteStreamName == "" || req.LocalStreamName == "" || req.MediaSessionID == "" {
		return control.PullReply{Error: "bad request: uri, remoteStreamName, localStreamName and the pull's id are required"}
	}
	p := d.newPull(req)
	if msg := d.addPull(p); msg != "" {
		p.cancel()
		return control.PullReply{Error: msg}
	}
	go func() {
		defer d.wg.Done()
		p.run()
	}()
	<-p.ready
	if p.err != nil {
		return control.PullReply{Error: p.err.Error()}
	}
	return control.PullReply{RemoteMediaSessionID: p.play.MediaSessionID()}
}

func (d *Daemon) newPull(req control.PullRequest) *pull {
	p := &pull{d: d, req: req, key: req.Owner.Key(), ready: make(chan struct{}), done: make(chan struct{}),
		receivers: map[webrtc.RTPCodecType]*atomic.Pointer[webrtc.RTPReceiver]{},
		log: d.log.With().Str("streamName", req.LocalStreamName).Str("uri", req.URI).
			Str("remoteStreamName", req.RemoteStreamName).Str("role", "pull").Logger()}
	p.st = newStream(req.LocalStreamName, nil)
	p.ctx, p.cancel = context.WithCancel(d.ctx)
	return p
}

// addPull registers p and counts its run goroutine in wg; the message says why it cannot run.
func (d *Daemon) addPull(p *pull) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return wcs.InfoFailedByError
	case d.pulls[p.key] != nil:
		return wcs.InfoMediaSessionIDInUse
	case d.streams[p.st.name] != nil:
		return wcs.InfoStreamNameAlreadyInUse
	}
	for _, other := range d.pulls {
		if other.st.name == p.st.name {
			return wcs.InfoStreamNameAlreadyInUse
		}
	}
	d.pulls[p.key] = p
	d.wg.Add(1)
	return ""
}

// pullOf is the pull of an owner key, or nil.
func (d *Daemon) pullOf(key string) *pull {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pulls[key]
}

// run sets the pull up, holds it until the remote play ends or someone ends the pull, and
// tears it down.
func (p *pull) run() {
	p.err = p.setup()
	close(p.ready)
	if p.err != nil {
		p.log.Info().Err(p.err).Msg("pull not set up")
		p.end(wcs.InfoFailedByError, true) // the owner reads the error in the reply
	} else {
		p.log.Info().Str("remoteMediaSessionId", p.play.MediaSessionID()).Msg("pull playing")
		obj, _ := p.play.WaitStatus(p.ctx, wcs.StatusStopped, wcs.StatusFailed, wcs.StatusUnpublished)
		if p.ctx.Err() == nil {
			// The remote publisher stopped, or the remote server went: for the local players
			// this stream's publisher has stopped either way.
			p.log.Info().Str("status", obj.Status).Str("info", obj.Info).Msg("remote play ended")
			p.end(wcs.InfoStoppedByPublisherStop, false)
		}
	}
	<-p.ctx.Done()
	p.teardown()
}

// setup connects to the remote server, plays the stream there and, once it plays, builds the
// local tracks from the answer's codecs and publishes the stream here.
func (p *pull) setup() error {
	ctx, cancel := context.WithTimeout(p.ctx, pullSetupTimeout)
	defer cancel()
	log := p.log.With().Str("component", "pull-client").Logger()
	sess, err := wasmclient.Connect(ctx, p.req.URI, wasmclient.SessionOptions{Logger: &log})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", p.req.URI, err)
	}
	p.sess = sess
	play, err := sess.Play(ctx, wasmclient.PlayOptions{Name: p.req.RemoteStreamName, OnTrack: p.onTrack})
	if err != nil {
		return fmt.Errorf("play %q at %s: %w", p.req.RemoteStreamName, p.req.URI, err)
	}
	p.play = play
	if _, err := play.WaitStatus(ctx, wcs.StatusPlaying); err != nil {
		return fmt.Errorf("play %q at %s: %w", p.req.RemoteStreamName, p.req.URI, err)
	}
	if err := p.buildTracks(play.RemoteSDP()); err != nil {
		return fmt.Errorf("play %q at %s: %w", p.req.RemoteStreamName, p.req.URI, err)
	}
	return p.d.publishPulled(p)
}

// publishPulled indexes the pulled stream by its local name, for players.
func (d *Daemon) publishPulled(p *pull) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errRelayClosed
	}
	if d.streams[p.st.name] != nil {
		return fmt.Errorf("stream name %q: %s", p.st.name, wcs.InfoStreamNameAlreadyInUse)
	}
	d.streams[p.st.name] = p.st
	return nil
}

// buildTracks makes one local track per kind the remote server sends, with the codec its answer
// chose (the first of the m-line): the local players get exactly what the remote sends.
func (p *pull) buildTracks(answer string) error {
	defer close(p.st.ready)
	ans, err := rtc.ParseOffer(answer) // the parser of offers reads any SDP
	if err != nil {
		return fmt.Errorf("remote answer: %w", err)
	}
	st := p.st
	for _, m := range ans.Media {
		if m.Port == 0 || m.Direction == "recvonly" || m.Direction == "inactive" || len(m.Codecs) == 0 ||
			st.tracks[m.Kind] != nil {
			continue
		}
		c := m.Codecs[0]
		params := webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(c.PayloadType),
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: m.Kind.String() + "/" + c.Name,
				ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.Fmtp}}
		recv := &atomic.Pointer[webrtc.RTPReceiver]{}
		p.receivers[m.Kind] = recv
		st.addTrack(m.Kind, params, p.d.met.forward, func(ssrc uint32) { p.requestKeyframe(recv.Load(), ssrc) },
			func(w, h int) { p.d.onFormat(st, w, h) })
	}
	if len(st.tracks) == 0 {
		return errNoMedia
	}
	return nil
}

// requestKeyframe asks the remote server for a key frame of the track ssrc (it asks its
// publisher), once that track has arrived.
func (p *pull) requestKeyframe(r *webrtc.RTPReceiver, ssrc uint32) {
	if r == nil || ssrc == 0 {
		return
	}
	if _, err := r.Transport().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		p.log.Debug().Err(err).Msg("key frame request to the remote server")
	}
}

// onTrack feeds a remote track into its local track until the remote stops sending; it runs
// on the wasmclient session's goroutine, which the session's Close waits for.
func (p *pull) onTrack(remote *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	select {
	case <-p.st.ready:
	case <-p.ctx.Done():
		return
	}
	kind := remote.Kind()
	t := p.st.source(remote)
	if t == nil {
		p.log.Warn().Str("kind", kind.String()).Msg("unexpected pulled track ignored")
		return
	}
	p.receivers[kind].Store(r)
	t.Run(remote)
}

// end stops the pull once, with the info its players get; told means its owner knows already.
func (p *pull) end(info string, told bool) {
	if !p.ended.CompareAndSwap(false, true) {
		return
	}
	p.info, p.told = info, told
	p.cancel()
}

// teardown ends the local players, stops the remote play and tells the owner, which releases
// the stream's name.
func (p *pull) teardown() {
	d := p.d
	d.mu.Lock()
	if d.pulls[p.key] == p {
		delete(d.pulls, p.key)
	}
	if d.streams[p.st.name] == p.st {
		delete(d.streams, p.st.name)
	}
	d.mu.Unlock()
	defer func() { // after close(p.done): Drain may then return and the daemon close
		d.mu.Lock()
		d.wakeIfIdleLocked()
		d.mu.Unlock()
	}()
	info := p.info
	if info == "" { // the daemon is closing
		info = wcs.InfoStoppedByPublisherStop
	}
	for _, s := range p.st.end() {
		d.end(s, control.StateClosed, info, true)
	}
	if p.sess != nil {
		_ = p.sess.Close() // waits for the track readers
	}
	p.st.close()
	if !p.told && !d.nc.IsClosed() {
		ev := control.MediaEvent{Owner: p.req.Owner, Kind: control.EventState, Publisher: true,
			State: control.StateClosed, Info: info}
		if err := bus.Publish(d.nc, control.SignalEventsSubject(p.req.SignalNode), ev); err != nil {
			p.log.Debug().Err(err).Msg("pull end not told to its owner")
		}
	}
	p.log.Info().Str("info", info).Msg("pull ended")
	close(p.done)
}

// handlePullStop ends the pull its owner names and answers once it is torn down.
func (d *Daemon) handlePullStop(m *nats.Msg) any {
	var req control.PullStopRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.StopReply{Error: "bad request: " + err.Error()}
	}
	p := d.pullOf(req.Owner.Key())
	if p == nil { // ended already
		return control.StopReply{}
	}
	if req.Owner != p.req.Owner {
		return control.StopReply{Error: "bad request: not the owner of this pull"}
	}
	p.log.Info().Msg("pull stopped by its owner")
	p.end(wcs.InfoStoppedByPublisherStop, true)
	select {
	case <-p.done:
	case <-time.After(control.RequestTimeout):
		return control.StopReply{Error: "pull still stopping"}
	}
	return control.StopReply{}
}

// handlePulls lists the pulls this daemon holds (the REST API's /pull/find_all).
func (d *Daemon) handlePulls(*nats.Msg) any {
	d.mu.Lock()
	pulls := make([]*pull, 0, len(d.pulls))
	for _, p := range d.pulls {
		pulls = append(pulls, p)
	}
	d.mu.Unlock()
	out := control.PullsReply{Pulls: []control.Pull{}}
	for _, p := range pulls {
		select {
		case <-p.ready:
		default:
			continue // not playing yet
		}
		if p.err != nil || p.ended.Load() {
			continue
		}
		out.Pulls = append(out.Pulls, control.Pull{Owner: p.req.Owner, MediaNode: d.cfg.NodeID, URI: p.req.URI,
			RemoteStreamName: p.req.RemoteStreamName, LocalStreamName: p.req.LocalStreamName,
			RemoteMediaSessionID: p.play.MediaSessionID(), Status: p.play.Status()})
	}
	return out
}

// Pulls counts the streams pulled here from other servers (tests).
func (d *Daemon) Pulls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.pulls)
}

// endPulls ends every pull with info, its owner told (a drain's grace is over).
func (d *Daemon) endPulls(info string) int {
	d.mu.Lock()
	all := make([]*pull, 0, len(d.pulls))
	for _, p := range d.pulls {
		all = append(all, p)
	}
	d.mu.Unlock()
	for _, p := range all {
		p.end(info, false)
	}
	return len(all)
}

// endPullsOwnedBy ends, without telling their owner, the pulls whose owner matches (a dead
// signal node cannot release their names; the other signal nodes free them).
func (d *Daemon) endPullsOwnedBy(match func(control.Owner) bool) int {
	d.mu.Lock()
	var gone []*pull
	for _, p := range d.pulls {
		if match(p.req.Owner) {
			gone = append(gone, p)
		}
	}
	d.mu.Unlock()
	for _, p := range gone {
		p.end(wcs.InfoStoppedByPublisherStop, true)
	}
	return len(gone)
}
