package mediad

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/mediad/rtc"
	"github.com/potok-media/potok/mediad/sipleg"
)

// A SIP call's media (api/control call.go, docs/protocol.md §E.9, §E.10): a media session whose
// peer connection is the call's WebRTC leg and whose sipleg.Leg is its plain RTP leg. The two
// legs carry one codec both sides have, so nothing is transcoded: the browser's audio packets go
// to the leg (a forward.Down) with the SIP side's payload types, and the peer's packets go to a
// local track of the peer connection. Audio only for now.

// bridgeable are the audio codecs both legs can carry as they are: what browsers and SIP phones
// both speak.
var bridgeable = []sipleg.Codec{
	{Name: "opus", ClockRate: 48000, Channels: 2},
	{Name: "G722", ClockRate: 8000},
	{Name: "PCMU", ClockRate: 8000},
	{Name: "PCMA", ClockRate: 8000},
}

const telephoneEvent = "telephone-event"

// callLeg is a media session's side of a call (session.call).
type callLeg struct {
	outgoing bool
	leg      *sipleg.Leg
	local    *webrtc.TrackLocalStaticRTP // the peer's audio, sent to the browser
	offered  []sipleg.Codec              // outgoing: what the INVITE offered (the browser's payload types)
	sessID   uint64                      // the o= line of the leg's SDP
	sipPT    atomic.Uint32               // the SIP side's payload type of the chosen codec
	tePT     atomic.Int32                // the SIP side's telephone-event payload type, -1 = none
	// armed is closed once both legs are negotiated: only then can ICE connect, so the session's
	// ICE timeout starts there (a call may ring for long before it is answered).
	armed    chan struct{}
	answered atomic.Bool

	// The leg's SDP after the first exchange, for the re-INVITEs of a hold (callHold): the SIP
	// side's codecs, the o= version last written, and who holds the call. Guarded by sdpMu: hold
	// requests from both sides may cross.
	sdpMu      sync.Mutex
	sdpCodecs  []sipleg.Codec
	sdpVersion uint64
	localHold  bool // the browser held the call
	remoteHold bool // the SIP peer held the call

	lastDTMF uint32 // the timestamp of the peer's last RFC 4733 event counted (Run's goroutine)
	dtmfSeen bool
}

func newCallLeg(outgoing bool) *callLeg {
	c := &callLeg{outgoing: outgoing, sessID: rand.Uint64N(1 << 53), armed: make(chan struct{}), sdpVersion: 1}
	c.tePT.Store(-1)
	return c
}

func (c *callLeg) arm() {
	if c.answered.CompareAndSwap(false, true) {
		close(c.armed)
	}
}

// handleCall opens a call's media: an outgoing call's WebRTC offer gets the leg's SIP offer, an
// incoming call's SIP offer gets the browser's offer and the SIP answer.
func (d *Daemon) handleCall(m *nats.Msg) any {
	var req control.CallRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.CallReply{Error: "bad request: " + err.Error()}
	}
	if req.MediaSessionID == "" {
		return control.CallReply{Error: wcs.InfoMediaSessionIDNull}
	}
	if msg := d.precheck(req.Owner.Key(), "", false); msg != "" {
		return control.CallReply{Error: msg}
	}
	s := d.newCallSession(req)
	conn, err := d.rtpPorts.Open()
	if err != nil {
		s.log.Error().Err(err).Msg("call: RTP leg")
		return control.CallReply{Error: wcs.InfoFailedBySessionCreation}
	}
	s.call.leg = sipleg.NewLeg(conn, rand.Uint32())
	var reply control.CallReply
	if req.Outgoing {
		reply, err = s.offerSIP(req)
	} else {
		reply, err = s.offerWebRTC(req)
	}
	if err != nil {
		s.log.Info().Err(err).Msg("call not set up")
		_ = s.call.leg.Close()
		s.discard()
		if reply.Error == "" {
			reply.Error = wcs.InfoFailedByError
		}
		return control.CallReply{Error: reply.Error}
	}
	if msg := s.start(); msg != "" {
		_ = s.call.leg.Close()
		s.discard()
		return control.CallReply{Error: msg}
	}
	s.goSession(func() { s.call.leg.Run(s.fromSIP) })
	s.goSession(s.reportLeg)
	s.log.Info().Bool("outgoing", req.Outgoing).Int("rtpPort", s.call.leg.LocalPort()).Msg("call media opened")
	return reply
}

// newCallSession is a media session for a call: a publisher of a stream nobody can play (it is
// not indexed by name), so that the browser's track has the same life as a publisher's.
func (d *Daemon) newCallSession(req control.CallRequest) *session {
	s := d.newSession(req.Owner, "call:"+req.MediaSessionID, nil)
	s.call = newCallLeg(req.Outgoing)
	s.log = d.log.With().Str("mediaSessionId", s.id).Str("callId", s.id).Str("sessionId", req.Owner.SessionID).
		Str("signalNode", req.Owner.SignalNode).Str("role", s.role()).Logger()
	return s
}

// offerSIP (outgoing) applies the browser's offer and offers the SIP peer the browser's audio
// codecs the bridge can carry, with the browser's payload types, so that whichever the peer
// picks needs no mapping.
func (s *session) offerSIP(req control.CallRequest) (control.CallReply, error) {
	offer, err := rtc.ParseOffer(req.WebRTCOffer)
	if err != nil {
		return control.CallReply{}, err
	}
	var codecs []sipleg.Codec
	for _, m := range offer.Media {
		if m.Kind != webrtc.RTPCodecTypeAudio || m.Port == 0 {
			continue
		}
		for _, oc := range m.Codecs {
			c := sipleg.Codec{PayloadType: oc.PayloadType, Name: oc.Name, ClockRate: oc.ClockRate, Channels: oc.Channels, Fmtp: oc.Fmtp}
			if isBridgeable(c) || c.Is(telephoneEvent, 8000) {
				codecs = append(codecs, c)
			}
		}
		break
	}
	if !hasAudioCodec(codecs) {
		return control.CallReply{Error: wcs.InfoNoCommonCodecs}, fmt.Errorf("the browser offers no audio codec the bridge carries")
	}
	s.call.offered = codecs
	// The bridge sends DTMF itself (RFC 4733), so the INVITE offers telephone-event even when the
	// browser does not; only a browser's own is relayed as it comes.
	sipCodecs := codecs
	if _, ok := findCodec(codecs, telephoneEvent, 8000); !ok {
		sipCodecs = append(append([]sipleg.Codec{}, codecs...), sipleg.Codec{PayloadType: freePT(codecs), Name: telephoneEvent,
			ClockRate: 8000, Fmtp: "0-15"})
	}
	if err := s.newPeer(rtc.PeerOptions{Codecs: rtcCodecs(codecs), TCP: req.Transport == "TCP"}); err != nil {
		return control.CallReply{}, err
	}
	s.pc.OnTrack(s.onCallTrack)
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: req.WebRTCOffer}); err != nil {
		return control.CallReply{}, fmt.Errorf("browser offer: %w", err)
	}
	sdp := sipleg.Build(s.d.rtpPorts.Advertised(), s.call.leg.LocalPort(), sipCodecs, "sendrecv", s.call.sessID, 1)
	return control.CallReply{SIPOffer: sdp}, nil
}

// offerWebRTC (incoming) chooses the codec from the SIP offer (its first the bridge carries: the
// offerer's preference), offers the browser exactly that codec, and answers the SIP peer with it.
func (s *session) offerWebRTC(req control.CallRequest) (control.CallReply, error) {
	sm, err := sipleg.Parse(req.SIPOffer)
	if err != nil {
		return control.CallReply{}, err
	}
	chosen, ok := firstBridgeable(sm.Codecs)
	if !ok {
		return control.CallReply{Error: wcs.InfoNoCommonCodecs}, fmt.Errorf("the SIP offer has no audio codec the bridge carries")
	}
	codecs := []sipleg.Codec{chosen}
	if te, ok := findCodec(sm.Codecs, telephoneEvent, 8000); ok {
		codecs = append(codecs, te)
	}
	if err := s.newPeer(rtc.PeerOptions{Codecs: rtcCodecs(codecs), TCP: req.Transport == "TCP"}); err != nil {
		return control.CallReply{}, err
	}
	s.pc.OnTrack(s.onCallTrack)
	if err := s.addCallTrack(chosen); err != nil {
		return control.CallReply{}, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	offer, err := rtc.MakeOffer(ctx, s.pc)
	if err != nil {
		return control.CallReply{}, err
	}
	s.setSIPRemote(sm, codecs, codecs)
	dir := answerDirection(sm.Direction)
	answer := sipleg.Build(s.d.rtpPorts.Advertised(), s.call.leg.LocalPort(), codecs, dir, s.call.sessID, 1)
	return control.CallReply{WebRTCOffer: offer, SIPAnswer: answer, AudioCodec: rtc.WCSName("audio/" + chosen.Name)}, nil
}

// addCallTrack adds the track that carries the peer's audio to the browser: on the transceiver
// of the browser's offer (outgoing: AddTrack takes the offer's audio transceiver), or on a new
// sendrecv one (incoming: the daemon offers).
func (s *session) addCallTrack(c sipleg.Codec) error {
	local, err := webrtc.NewTrackLocalStaticRTP(rtcCodec(c).Params.RTPCodecCapability, "audio", "call-"+s.id)
	if err != nil {
		return fmt.Errorf("call track: %w", err)
	}
	if s.call.outgoing {
		_, err = s.pc.AddTrack(local)
	} else {
		_, err = s.pc.AddTransceiverFromTrack(local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	}
	if err != nil {
		return fmt.Errorf("call track: %w", err)
	}
	s.call.local = local
	return nil
}

// setSIPRemote points the leg at the peer's SDP address, maps what the browser sends (the
// browser's payload types, mine) to the SIP side's (theirs), and remembers the SIP side's type
// of the chosen codec for what comes back.
func (s *session) setSIPRemote(sm *sipleg.Media, mine, theirs []sipleg.Codec) {
	pts := map[uint8]uint8{}
	for i := range mine {
		pts[mine[i].PayloadType] = theirs[i].PayloadType
	}
	s.call.sipPT.Store(uint32(theirs[0].PayloadType))
	s.call.leg.SetClock(theirs[0].PayloadType, theirs[0].ClockRate)
	s.call.tePT.Store(-1)
	for _, c := range theirs {
		if c.Is(telephoneEvent, 8000) {
			s.call.tePT.Store(int32(c.PayloadType))
		}
	}
	var addr *net.UDPAddr
	if sm.Port > 0 && !sm.Addr.IsUnspecified() {
		addr = &net.UDPAddr{IP: sm.Addr, Port: sm.Port}
	}
	s.call.leg.SetRemote(addr, pts)
	s.call.sdpMu.Lock()
	s.call.sdpCodecs = theirs
	s.call.sdpMu.Unlock()
}

// handleCallAnswer completes a call's negotiation: the SIP peer's answer (outgoing) chooses the
// codec the browser is answered with; the browser's answer (incoming) completes its leg.
func (d *Daemon) handleCallAnswer(m *nats.Msg) any {
	var req control.CallAnswerRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.CallAnswerReply{Error: "bad request: " + err.Error()}
	}
	s := d.session(req.Owner.Key())
	if s == nil || s.call == nil {
		return control.CallAnswerReply{Error: wcs.InfoStreamNotFound}
	}
	var reply control.CallAnswerReply
	var err error
	if s.call.outgoing {
		reply, err = s.answerWebRTC(req.SIPAnswer)
	} else {
		err = s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: req.WebRTCAnswer})
	}
	if err != nil {
		s.log.Info().Err(err).Msg("call answer refused")
		if reply.Error == "" {
			reply.Error = wcs.InfoFailedByError
		}
		d.end(s, control.StateFailed, reply.Error, false)
		return control.CallAnswerReply{Error: reply.Error}
	}
	s.call.arm()
	return reply
}

// answerWebRTC (outgoing) reads the codec the SIP peer chose among those offered and answers the
// browser with exactly that one (and telephone-event when both have it).
func (s *session) answerWebRTC(sipAnswer string) (control.CallAnswerReply, error) {
	if s.call.answered.Load() {
		return control.CallAnswerReply{}, fmt.Errorf("answered already")
	}
	sm, err := sipleg.Parse(sipAnswer)
	if err != nil {
		return control.CallAnswerReply{}, err
	}
	var mine, theirs []sipleg.Codec
	for _, c := range sm.Codecs { // the peer's order: its first common codec is what it sends
		if o, ok := matchOffered(s.call.offered, c); ok && isBridgeable(c) {
			mine, theirs = append(mine, o), append(theirs, c)
			break
		}
	}
	if len(mine) == 0 {
		return control.CallAnswerReply{Error: wcs.InfoNoCommonCodecs}, fmt.Errorf("the SIP answer has none of the offered codecs")
	}
	if te, ok := findCodec(sm.Codecs, telephoneEvent, 8000); ok {
		if o, ok := matchOffered(s.call.offered, te); ok {
			mine, theirs = append(mine, o), append(theirs, te)
		}
	}
	if err := s.addCallTrack(mine[0]); err != nil {
		return control.CallAnswerReply{}, err
	}
	if err := s.preferCodecs(mine); err != nil {
		return control.CallAnswerReply{}, err
	}
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	answered, err := rtc.CompleteAnswer(ctx, s.pc)
	if err != nil {
		return control.CallAnswerReply{}, err
	}
	s.setSIPRemote(sm, mine, theirs)
	if te, ok := findCodec(sm.Codecs, telephoneEvent, 8000); ok {
		s.call.tePT.Store(int32(te.PayloadType)) // the bridge's own DTMF, whether the browser has it or not
	}
	return control.CallAnswerReply{WebRTCAnswer: answered.SDP, AudioCodec: rtc.WCSName("audio/" + mine[0].Name)}, nil
}

// preferCodecs makes the audio transceiver answer with exactly codecs.
func (s *session) preferCodecs(codecs []sipleg.Codec) error {
	params := make([]webrtc.RTPCodecParameters, len(codecs))
	for i, c := range codecs {
		params[i] = rtcCodec(c).Params
	}
	for _, t := range s.pc.GetTransceivers() {
		if t.Kind() == webrtc.RTPCodecTypeAudio {
			if err := t.SetCodecPreferences(params); err != nil {
				return fmt.Errorf("call codecs: %w", err)
			}
		}
	}
	return nil
}

// onCallTrack sends the browser's audio to the SIP peer until the track ends.
func (s *session) onCallTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if remote.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	s.log.Debug().Uint32("ssrc", uint32(remote.SSRC())).Str("codec", remote.Codec().MimeType).Msg("call: browser audio started")
	s.goSession(func() {
		var down interface {
			WriteRTP(*rtp.Header, []byte) error
		} = s.call.leg // the RTP leg is where the browser's packets go (forward.Down)
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			_ = down.WriteRTP(&pkt.Header, pkt.Payload)
		}
	})
}

// fromSIP sends one of the peer's packets to the browser: the chosen codec only (a DTMF event the
// peer sends is not relayed: the browser has no use for it; it is counted).
func (s *session) fromSIP(pkt *rtp.Packet) {
	if int32(pkt.PayloadType) == s.call.tePT.Load() {
		s.countDTMF(pkt)
		return
	}
	if s.call.local == nil || uint32(pkt.PayloadType) != s.call.sipPT.Load() {
		return
	}
	_ = s.call.local.WriteRTP(pkt)
}

// countDTMF counts an RFC 4733 event once: its first packet with the end bit (the end is sent
// three times, all with the event's timestamp). Run's goroutine only.
func (s *session) countDTMF(pkt *rtp.Packet) {
	if len(pkt.Payload) < 4 || pkt.Payload[1]&0x80 == 0 || s.call.lastDTMF == pkt.Timestamp && s.call.dtmfSeen {
		return
	}
	s.call.lastDTMF, s.call.dtmfSeen = pkt.Timestamp, true
	s.d.met.sipDTMF.Inc()
	s.log.Info().Uint8("event", pkt.Payload[0]).Msg("DTMF received from the SIP peer")
}

// legReportInterval is how often the RTP leg reports to the peer (RTCP) and to the metrics.
const legReportInterval = 5 * time.Second

// reportLeg sends the peer a receiver report and updates the bridge's loss and jitter metrics
// every legReportInterval, until the session ends (one of its goroutines).
func (s *session) reportLeg() {
	t := time.NewTicker(legReportInterval)
	defer t.Stop()
	var lost int64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if err := s.call.leg.SendReport(); err != nil {
			s.log.Debug().Err(err).Msg("RTCP receiver report not sent")
		}
		rec := s.call.leg.Reception()
		if rec.Lost > lost {
			s.d.met.sipLost.Add(float64(rec.Lost - lost))
			lost = rec.Lost
		}
		if rec.Jitter > 0 {
			s.d.met.sipJitter.Observe(rec.Jitter.Seconds())
		}
	}
}

// handleCallHold stops or resumes the relay between the legs (docs/protocol.md §E.11): asked by
// the browser, it answers the SDP of the re-INVITE to send; asked with the SIP peer's re-INVITE,
// the SDP that answers it. The relay stops while either side holds the call.
func (d *Daemon) handleCallHold(m *nats.Msg) any {
	var req control.CallHoldRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.CallHoldReply{Error: "bad request: " + err.Error()}
	}
	s := d.session(req.Owner.Key())
	if s == nil || s.call == nil {
		return control.CallHoldReply{Error: wcs.InfoStreamNotFound}
	}
	c := s.call
	c.sdpMu.Lock()
	defer c.sdpMu.Unlock()
	if len(c.sdpCodecs) == 0 {
		return control.CallHoldReply{Error: "the call is not established"}
	}
	var reply control.CallHoldReply
	if req.SIPOffer == "" {
		c.localHold = req.Hold
		dir := "sendrecv"
		if c.localHold {
			dir = "sendonly"
		}
		reply.SIPOffer = s.legSDPLocked(dir)
	} else {
		sm, err := sipleg.Parse(req.SIPOffer)
		if err != nil {
			s.log.Info().Err(err).Msg("re-INVITE refused")
			return control.CallHoldReply{Error: err.Error()}
		}
		// RFC 3264 §8.4: sendonly or inactive holds; so does the older c=0.0.0.0 (RFC 2543).
		c.remoteHold = sm.Direction == "sendonly" || sm.Direction == "inactive" || sm.Addr.IsUnspecified()
		reply.SIPAnswer = s.legSDPLocked(answerDirection(sm.Direction))
	}
	reply.Hold = c.localHold || c.remoteHold
	c.leg.Hold(reply.Hold)
	s.log.Info().Bool("localHold", c.localHold).Bool("remoteHold", c.remoteHold).Msg("call hold")
	return reply
}

// legSDPLocked writes the leg's SDP with direction, one version up (sdpMu held).
func (s *session) legSDPLocked(direction string) string {
	s.call.sdpVersion++
	return sipleg.Build(s.d.rtpPorts.Advertised(), s.call.leg.LocalPort(), s.call.sdpCodecs, direction, s.call.sessID,
		s.call.sdpVersion)
}

// handleCallDTMF sends a DTMF symbol to the SIP peer as RFC 4733 telephone-events (docs/protocol.md
// §E.13), when the peer negotiated them.
func (d *Daemon) handleCallDTMF(m *nats.Msg) any {
	var req control.CallDTMFRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.StopReply{Error: "bad request: " + err.Error()}
	}
	s := d.session(req.Owner.Key())
	if s == nil || s.call == nil {
		return control.StopReply{Error: wcs.InfoStreamNotFound}
	}
	ev, ok := sipleg.DTMFEvent(req.Symbol)
	if !ok {
		return control.StopReply{Error: "bad request: DTMF symbol " + strconv.Quote(req.Symbol)}
	}
	pt := s.call.tePT.Load()
	if pt < 0 {
		return control.StopReply{Error: control.ErrNoTelephoneEvent}
	}
	if err := s.call.leg.DTMF(ev, uint8(pt)); err != nil {
		return control.StopReply{Error: wcs.InfoFailedByError}
	}
	s.log.Info().Str("dtmf", req.Symbol).Msg("call: DTMF sent as telephone-event")
	return control.StopReply{}
}

// freePT is a dynamic payload type none of cs uses (101 when free).
func freePT(cs []sipleg.Codec) uint8 {
	used := map[uint8]bool{}
	for _, c := range cs {
		used[c.PayloadType] = true
	}
	for pt := uint8(101); pt < 128; pt++ {
		if !used[pt] {
			return pt
		}
	}
	for pt := uint8(96); ; pt++ {
		if !used[pt] {
			return pt
		}
	}
}

func isBridgeable(c sipleg.Codec) bool {
	_, ok := findCodec(bridgeable, c.Name, c.ClockRate)
	return ok
}

func hasAudioCodec(cs []sipleg.Codec) bool {
	for _, c := range cs {
		if isBridgeable(c) {
			return true
		}
	}
	return false
}

// firstBridgeable is the first of offered the bridge carries.
func firstBridgeable(offered []sipleg.Codec) (sipleg.Codec, bool) {
	for _, c := range offered {
		if isBridgeable(c) {
			return c, true
		}
	}
	return sipleg.Codec{}, false
}

func findCodec(cs []sipleg.Codec, name string, rate uint32) (sipleg.Codec, bool) {
	for _, c := range cs {
		if c.Is(name, rate) {
			return c, true
		}
	}
	return sipleg.Codec{}, false
}

// matchOffered finds the offered codec the peer's answer codec c is (by payload type, else by
// name and rate: a peer may renumber a dynamic type).
func matchOffered(offered []sipleg.Codec, c sipleg.Codec) (sipleg.Codec, bool) {
	for _, o := range offered {
		if o.PayloadType == c.PayloadType && o.Is(c.Name, c.ClockRate) {
			return o, true
		}
	}
	return findCodec(offered, c.Name, c.ClockRate)
}

// answerDirection is the direction that answers the SIP offer's (RFC 3264 §6.1).
func answerDirection(offered string) string {
	switch offered {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

func rtcCodec(c sipleg.Codec) rtc.Codec {
	ch := c.Channels
	if c.Is("opus", 48000) {
		ch = 2
	}
	return rtc.Codec{Kind: webrtc.RTPCodecTypeAudio, Params: webrtc.RTPCodecParameters{
		PayloadType: webrtc.PayloadType(c.PayloadType),
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/" + c.Name, ClockRate: c.ClockRate,
			Channels: ch, SDPFmtpLine: c.Fmtp},
	}}
}

func rtcCodecs(cs []sipleg.Codec) []rtc.Codec {
	out := make([]rtc.Codec, len(cs))
	for i, c := range cs {
		out[i] = rtcCodec(c)
	}
	return out
}
