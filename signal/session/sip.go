package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/mediactl"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/sipua"
)

// SIP (docs/protocol.md §E.1, §E.9, §E.10, §E.11): a session with a SIP account registers it
// through the node's user agent (Config.SIP) and places and takes calls. A call is a media
// session of a media daemon that bridges the browser's WebRTC leg and the SIP peer's RTP leg;
// the session carries each leg's SDP to the other side. The SIP transactions take seconds (a
// call rings), so each runs on a goroutine of its own that hands its outcome back to the
// session's goroutine (Do), which owns every call's state.

// SIP is what a session needs of the node's SIP user agent (*sipua.Agent).
type SIP interface {
	Register(ctx context.Context, acc sipua.Account, incoming sipua.IncomingHandler, events func(sipua.RegistrationEvent)) (*sipua.Registration, error)
	Dial(ctx context.Context, acc sipua.Account, callee string, sdp []byte, progress func(sipua.Response)) (*sipua.Outgoing, error)
	SendMessage(ctx context.Context, acc sipua.Account, to, contentType string, body []byte) (sipua.Response, error)
}

// CallMedia is what calls need of the media tier (*mediactl.Client).
type CallMedia interface {
	Call(ctx context.Context, node string, req control.CallRequest) (control.CallReply, error)
	CallAnswer(ctx context.Context, node string, req control.CallAnswerRequest) (control.CallAnswerReply, error)
	CallHold(ctx context.Context, node string, req control.CallHoldRequest) (control.CallHoldReply, error)
	CallDTMF(ctx context.Context, node string, req control.CallDTMFRequest) error
}

// sipCall is one call of the session, owned by its goroutine.
type sipCall struct {
	id          string
	incoming    bool
	node        string // the media daemon bridging it
	status      string
	caller      string
	callee      string
	visibleName string
	hasVideo    bool
	custom      json.RawMessage
	created     time.Time
	answered    bool   // outgoing: the browser has its answer (setRemoteSDP sent)
	answerSDP   string // incoming: the RTP leg's answer, sent with the 200 once the page answers

	transfer  *transfer // a transfer in progress (transfer.go)
	sipStatus int       // the last SIP status the call had (/call/find)

	cancel context.CancelFunc // ends the call's goroutine: CANCEL while it rings
	out    *sipua.Outgoing    // outgoing, once the peer answered
	in     *sipua.Incoming    // incoming
}

func (c *sipCall) object(status, info string, sipStatus int) wcs.Call {
	return wcs.Call{CallID: c.id, Incoming: c.incoming, Status: status, Caller: c.caller, Callee: c.callee,
		VisibleName: c.visibleName, HasAudio: true, HasVideo: c.hasVideo, MediaProvider: "WebRTC",
		SIPStatus: sipStatus, Info: info, Custom: c.custom}
}

// account reads the session's SIP account from its connection fields (nil: none).
func accountOf(fields map[string]json.RawMessage) *sipua.Account {
	str := func(k string) string {
		var v wcs.String
		if raw, ok := fields[k]; ok {
			_ = json.Unmarshal(raw, &v)
		}
		return string(v)
	}
	acc := sipua.Account{Login: str("sipLogin"), AuthName: str("sipAuthenticationName"), Password: str("sipPassword"),
		Domain: str("sipDomain"), OutboundProxy: str("sipOutboundProxy"), ContactParams: str("sipContactParams"),
		VisibleName: str("sipVisibleName")}
	if acc.Login == "" {
		return nil
	}
	if p := str("sipPort"); p != "" { // a string from the demo forms, or a number (§B.1)
		acc.Port, _ = strconv.Atoi(p)
	}
	if acc.VisibleName == "" {
		acc.VisibleName = acc.Login
	}
	return &acc
}

// registerRequired reads sipRegisterRequired: register says whether the account is registered,
// asked whether the page said so. A connection with a sipLogin registers unless it says false (the
// WebSDK sends the field only when the page sets it, and its own SIP suite expects REGISTERED
// without it, §C.4); a node without SIP answers only a registration asked for.
func registerRequired(fields map[string]json.RawMessage) (register, asked bool) {
	raw, ok := fields["sipRegisterRequired"]
	if !ok {
		var login wcs.String
		_ = json.Unmarshal(fields["sipLogin"], &login)
		return login != "", false
	}
	var v wcs.Bool
	_ = json.Unmarshal(raw, &v)
	return bool(v), true
}

// startSIP registers the session's account when its connection asked (sipRegisterRequired),
// answering registered or a failed RegistrationStatusEvent (§C.4) once the registrar has.
func (s *Session) startSIP(register, asked bool) {
	s.sipAcc = accountOf(s.fields)
	if !register || s.cfg.SIP == nil && !asked {
		return
	}
	if s.cfg.SIP == nil || s.sipAcc == nil {
		info := wcs.InfoSIPNotConfigured
		if s.cfg.SIP != nil {
			info = wcs.InfoNotRegistered
		}
		s.registrationFailed(sipua.RegistrationEvent{Status: wcs.RegistrationFailed, Info: info})
		return
	}
	acc := *s.sipAcc
	go func() {
		reg, err := s.cfg.SIP.Register(s.ctx, acc, s.incomingCall, s.registrationChanged)
		ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
		defer cancel()
		if !s.Do(ctx, func() { s.registered(reg, err) }) && reg != nil {
			reg.Close() // the session ended meanwhile
		}
	}()
}

func (s *Session) registered(reg *sipua.Registration, err error) {
	if err != nil {
		var re *sipua.RegisterError
		ev := sipua.RegistrationEvent{Status: wcs.RegistrationFailed, Info: err.Error()}
		if errors.As(err, &re) {
			ev = re.Event
		}
		s.log.Info().Err(err).Str("sipLogin", s.sipAcc.Login).Msg("sip registration failed")
		s.registrationFailed(ev)
		return
	}
	s.reg = reg
	reg.OnMessage(s.messageReceived)
	s.m.Registration(true)
	s.log.Info().Str("sipLogin", s.sipAcc.Login).Msg("sip registered")
	s.send(wcs.MsgRegistered, wcs.Registration{Status: wcs.RegistrationRegistered, Info: "OK"})
	s.post(hooks.RegistrationStatusEvent, map[string]any{"status": wcs.RegistrationRegistered, "sipLogin": s.sipAcc.Login})
}

func (s *Session) registrationFailed(ev sipua.RegistrationEvent) {
	s.m.Registration(false)
	info := ev.Info
	if ev.Code != 0 {
		info = strconv.Itoa(ev.Code) + " " + ev.Info
	}
	s.send(wcs.MsgFail, wcs.Registration{Status: ev.Status, Info: info, APIMethod: wcs.APIRegistrationStatus})
	s.post(hooks.RegistrationStatusEvent, map[string]any{"status": ev.Status, "info": info, "sipMessageRaw": ev.Raw})
}

// registrationChanged reports a refresh that failed or recovered (the refresher's goroutine).
func (s *Session) registrationChanged(ev sipua.RegistrationEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	s.Do(ctx, func() {
		if ev.Status == wcs.RegistrationRegistered {
			s.m.Registration(true)
			s.send(wcs.MsgRegistered, wcs.Registration{Status: ev.Status, Info: ev.Info})
			s.post(hooks.RegistrationStatusEvent, map[string]any{"status": ev.Status})
			return
		}
		s.registrationFailed(ev)
	})
}

// callMedia is the media tier's call side, nil when it has none.
func (s *Session) callMedia() CallMedia {
	cm, _ := s.media.(CallMedia)
	return cm
}

// onCall places an outgoing call (§B.12, §E.9): the daemon bridging it answers the browser's
// offer with the INVITE's SDP, and the INVITE goes out on the call's goroutine.
func (s *Session) onCall(env wcs.Envelope) {
	var req wcs.CallRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	id := string(req.CallID)
	if id == "" {
		s.sendFail("", "Bad call message: no callId")
		return
	}
	c := &sipCall{id: id, status: wcs.CallPending, caller: string(req.Caller), callee: string(req.Callee),
		visibleName: string(req.VisibleName), hasVideo: bool(req.HasVideo), custom: validJSON(req.Custom), created: time.Now()}
	if _, taken := s.sipCalls[id]; taken {
		s.send(wcs.MsgFinish, c.object(wcs.CallFailed, wcs.InfoMediaSessionIDInUse, 0))
		return
	}
	if info := s.callRefused(); info != "" {
		s.send(wcs.MsgFinish, c.object(wcs.CallFailed, info, 0))
		return
	}
	res := s.invoke(hooks.Call, map[string]any{"callId": id, "callee": c.callee, "caller": c.caller,
		"visibleName": c.visibleName, "hasVideo": c.hasVideo, "incoming": false})
	if proceed, _ := hooks.Decide(hooks.Call, res, s.hookCfg.Load()); !proceed {
		s.setCallStatus(c, wcs.CallFailed, res.Info, 0, hooks.CallStatusEvent) // never started: nothing to release
		return
	}
	node, err := s.media.PickMediaNode()
	if err != nil {
		info := InfoNoMediaNode
		if errors.Is(err, mediactl.ErrControlPlaneDown) {
			info = wcs.InfoControlPlaneDown
		}
		s.setCallStatus(c, wcs.CallFailed, info, 0, hooks.CallStatusEvent)
		return
	}
	c.node = node
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	rep, err := s.callMedia().Call(ctx, node, control.CallRequest{Owner: s.callOwner(id), Outgoing: true, WebRTCOffer: req.SDP})
	if err != nil || rep.Error != "" {
		s.setCallStatus(c, wcs.CallFailed, callInfo(rep.Error), 0, hooks.CallStatusEvent)
		return
	}
	s.sipCalls[id] = c
	s.setCallStatus(c, wcs.CallTrying, "", 0, hooks.CallStatusEvent) // §H.5: never leave the SDK PENDING
	dial, stop := context.WithCancel(s.ctx)
	c.cancel = stop
	acc := *s.sipAcc
	go s.dial(dial, c.id, acc, c.callee, []byte(rep.SIPOffer))
}

// callRefused says why this session cannot call now ("" = it can).
func (s *Session) callRefused() string {
	switch {
	case s.cfg.SIP == nil || s.callMedia() == nil:
		return wcs.InfoSIPNotConfigured
	case s.sipAcc == nil || s.sipAcc.Valid() != nil:
		return wcs.InfoNotRegistered
	case len(s.streams)+len(s.sipCalls) >= wcs.MaxMediaSessions:
		return wcs.InfoTooManyMediaSessions
	}
	return ""
}

func (s *Session) callOwner(id string) control.Owner {
	return control.Owner{SignalNode: s.cfg.NodeID, SignalStarted: s.cfg.NodeStarted, SessionID: s.cfg.SessionID, MediaSessionID: id}
}

// dial runs an outgoing call's INVITE and then waits for its end (the call's goroutine).
func (s *Session) dial(ctx context.Context, id string, acc sipua.Account, callee string, sdp []byte) {
	out, err := s.cfg.SIP.Dial(ctx, acc, callee, sdp, func(r sipua.Response) {
		s.onCallProgress(id, r)
	})
	if err != nil {
		s.doCall(id, func(c *sipCall) { s.callFailed(c, err) })
		return
	}
	answer := out.Answer()
	if !s.doCall(id, func(c *sipCall) {
		c.out = out
		out.OnReinvite(func(offer []byte) ([]byte, error) { return s.peerReinvite(id, offer) })
		out.OnDTMF(func(symbol string) { s.dtmfReceived(id, symbol) })
		s.callAnswered(c, answer)
	}) {
		out.Hangup() // the session or the call ended meanwhile
		return
	}
	select {
	case <-out.Done(): // the peer's BYE
		s.doCall(id, func(c *sipCall) { s.endCall(c, wcs.CallFinish, wcs.InfoNormalCallClearing, 0) })
	case <-ctx.Done(): // hung up here: the session already ended the call
	}
}

// doCall runs f on the session's goroutine with the call id, if the session still has it.
func (s *Session) doCall(id string, f func(*sipCall)) bool {
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
	defer cancel()
	s.Do(ctx, func() {
		if c := s.sipCalls[id]; c != nil {
			f(c)
			ran = true
		}
	})
	return ran
}

// onCallProgress maps a provisional response (§C.15): 100 TRYING, 180 RING, 183 SESSION_PROGRESS,
// whose SDP, when it has one, answers the browser already (early media).
func (s *Session) onCallProgress(id string, r sipua.Response) {
	s.doCall(id, func(c *sipCall) {
		switch {
		case r.Code == 100:
			// TRYING was sent when the call was placed.
		case r.Code == 180:
			s.setCallStatus(c, wcs.CallRing, "", r.Code, hooks.CallStatusEvent)
		case r.Code == 183:
			if len(r.SDP) > 0 {
				s.answerBrowser(c, r.SDP)
			}
			s.setCallStatus(c, wcs.CallSessionProgress, "", r.Code, hooks.CallStatusEvent)
		}
	})
}

// callAnswered: the peer's 200 (§E.9): the browser gets its answer (unless a 183 gave it) and
// the call is ESTABLISHED.
func (s *Session) callAnswered(c *sipCall, r sipua.Response) {
	if !c.answered && !s.answerBrowser(c, r.SDP) {
		return
	}
	s.setCallStatus(c, wcs.CallEstablished, "", r.Code, hooks.CallStatusEvent)
	s.log.Info().Str("callId", c.id).Dur("setup", time.Since(c.created)).Msg("call established")
}

// answerBrowser hands the peer's SDP to the daemon, which answers the browser with the codec
// the peer chose: setRemoteSDP [callId, answer, true]. False: the call has ended.
func (s *Session) answerBrowser(c *sipCall, sdp []byte) bool {
	if c.answered {
		return true
	}
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	rep, err := s.callMedia().CallAnswer(ctx, c.node, control.CallAnswerRequest{Owner: s.callOwner(c.id), SIPAnswer: string(sdp)})
	if err != nil || rep.Error != "" {
		s.endCall(c, wcs.CallFailed, callInfo(rep.Error), 0)
		return false
	}
	c.answered = true
	s.send(wcs.MsgSetRemoteSDP, c.id, rep.WebRTCAnswer, true)
	return true
}

// callFailed ends an outgoing call whose INVITE got no 2xx (§C.15): 486/600 BUSY, another
// status FAILED with it, no answer at all FAILED by request timeout.
func (s *Session) callFailed(c *sipCall, err error) {
	var ce *sipua.CallError
	if !errors.As(err, &ce) {
		s.endCall(c, wcs.CallFailed, wcs.InfoFailedByError, 0)
		return
	}
	switch {
	case ce.Code == 486 || ce.Code == 600:
		s.endCall(c, wcs.CallBusy, ce.Reason, ce.Code)
	case ce.Code != 0:
		s.endCall(c, wcs.CallFailed, ce.Reason, ce.Code)
	case errors.Is(err, sipua.ErrRingTimeout):
		s.endCall(c, wcs.CallFailed, wcs.InfoRingTimeout, 0)
	case errors.Is(err, context.Canceled):
		// hung up while ringing: hangup has ended it
	default:
		s.endCall(c, wcs.CallFailed, wcs.InfoFailedByRequestTimeout, 0)
	}
}

// incomingCall is a call to the session's registered login (the INVITE's goroutine): the daemon
// offers the browser the codec it chose from the SIP offer (setRemoteSDP [callId, offer, false]
// before notifyIncomingCall, §C.5), then RING.
func (s *Session) incomingCall(in *sipua.Incoming) {
	ctx, cancel := context.WithTimeout(context.Background(), stopBudget+control.RequestTimeout)
	defer cancel()
	if !s.Do(ctx, func() { s.offerIncoming(in) }) {
		in.Reject(480, "Temporarily Unavailable")
		return
	}
	go func() {
		<-in.Done()
		s.doCall(in.ID(), func(c *sipCall) {
			info := wcs.InfoNormalCallClearing
			if errors.Is(in.EndedBy(), sipua.ErrRingTimeout) {
				info = wcs.InfoRingTimeout
			}
			s.endCall(c, wcs.CallFinish, info, 0)
		})
	}()
}

func (s *Session) offerIncoming(in *sipua.Incoming) {
	user, display := in.Caller()
	c := &sipCall{id: in.ID(), incoming: true, status: wcs.CallPending, caller: user, callee: in.Callee(),
		visibleName: display, created: time.Now(), in: in}
	if _, taken := s.sipCalls[c.id]; taken || s.callMedia() == nil || len(s.streams)+len(s.sipCalls) >= wcs.MaxMediaSessions {
		in.Reject(486, "Busy Here")
		return
	}
	if len(in.Offer()) == 0 {
		in.Reject(488, "Not Acceptable Here") // a late offer (no SDP in the INVITE) is not bridged yet
		return
	}
	res := s.invoke(hooks.OnCallEvent, map[string]any{"callId": c.id, "incoming": true, "caller": c.caller,
		"callee": c.callee, "status": wcs.CallPending, "sipMessageRaw": in.Raw()})
	if proceed, _ := hooks.Decide(hooks.OnCallEvent, res, s.hookCfg.Load()); !proceed {
		in.Reject(403, "Forbidden")
		s.sendFail(hooks.OnCallEvent, res.Info)
		return
	}
	node, err := s.media.PickMediaNode()
	if err != nil {
		in.Reject(503, "Service Unavailable")
		return
	}
	c.node = node
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	rep, err := s.callMedia().Call(ctx, node, control.CallRequest{Owner: s.callOwner(c.id), SIPOffer: string(in.Offer())})
	if err != nil || rep.Error != "" {
		code, reason := 500, "Server Internal Error"
		if rep.Error == wcs.InfoNoCommonCodecs {
			code, reason = 488, "Not Acceptable Here"
		}
		in.Reject(code, reason)
		s.log.Info().Str("callId", c.id).Str("error", callInfo(rep.Error)).Msg("incoming call refused")
		return
	}
	c.hasVideo = rep.HasVideo
	c.answerSDP = rep.SIPAnswer
	s.sipCalls[c.id] = c
	s.send(wcs.MsgSetRemoteSDP, c.id, rep.WebRTCOffer, false)
	s.send(wcs.MsgNotifyIncomingCall, c.object(wcs.CallPending, "", 0))
	if err := in.Ring(); err != nil {
		s.log.Debug().Err(err).Str("callId", c.id).Msg("ringing not sent")
	}
	s.setCallStatus(c, wcs.CallRing, "", 180, hooks.CallStatusEvent)
}

// onAnswer accepts an incoming call (§B.13, §E.10): the browser's answer completes the daemon's
// WebRTC leg, and the SIP peer gets 200 with the RTP leg's answer.
func (s *Session) onAnswer(env wcs.Envelope) {
	var req wcs.CallRequest
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	c := s.sipCalls[string(req.CallID)]
	if c == nil || !c.incoming || c.in == nil {
		s.send(wcs.MsgFinish, wcs.CallStatus{CallID: string(req.CallID), Status: wcs.CallFailed, Info: wcs.InfoCallNotFound})
		return
	}
	res := s.invoke(hooks.Answer, map[string]any{"callId": c.id})
	if proceed, _ := hooks.Decide(hooks.Answer, res, s.hookCfg.Load()); !proceed {
		s.endCall(c, wcs.CallFailed, res.Info, 0)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	rep, err := s.callMedia().CallAnswer(ctx, c.node, control.CallAnswerRequest{Owner: s.callOwner(c.id), WebRTCAnswer: req.SDP})
	if err != nil || rep.Error != "" {
		s.endCall(c, wcs.CallFailed, callInfo(rep.Error), 0)
		return
	}
	id := c.id
	c.in.OnReinvite(func(offer []byte) ([]byte, error) { return s.peerReinvite(id, offer) })
	c.in.OnDTMF(func(symbol string) { s.dtmfReceived(id, symbol) })
	if err := c.in.Answer([]byte(c.answerSDP)); err != nil {
		s.endCall(c, wcs.CallFailed, wcs.InfoFailedByError, 0)
		return
	}
	s.setCallStatus(c, wcs.CallEstablished, "", 200, hooks.CallStatusEvent)
}

// onHangup ends a call from the page (§B.14): CANCEL while ringing out, 486 for a call not
// answered here, BYE once established; finish FINISH "Normal call clearing".
func (s *Session) onHangup(env wcs.Envelope) {
	var req wcs.CallID
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	c := s.sipCalls[string(req.CallID)]
	if c == nil {
		s.send(wcs.MsgFinish, wcs.CallStatus{CallID: string(req.CallID), Status: wcs.CallFinish, Info: wcs.InfoNormalCallClearing})
		return
	}
	s.invoke(hooks.Hangup, map[string]any{"callId": c.id})
	s.endCall(c, wcs.CallFinish, wcs.InfoNormalCallClearing, 0)
}

func (s *Session) allowed(method string, res hooks.Result) bool {
	proceed, _ := hooks.Decide(method, res, s.hookCfg.Load())
	return proceed
}

// onSendDtmf sends one DTMF symbol on an established call (§B.17, §E.13): as RFC 4733
// telephone-events from the media daemon (type RFC2833, the default), or in a SIP INFO (INFO,
// INFO_RELAY). No answer on success, as WCS; a failure is a fail naming it.
func (s *Session) onSendDtmf(env wcs.Envelope) {
	var req struct {
		CallID wcs.String `json:"callId"`
		Type   wcs.String `json:"type"`
		DTMF   wcs.String `json:"dtmf"`
	}
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	c := s.sipCalls[string(req.CallID)]
	if c == nil || (c.status != wcs.CallEstablished && c.status != wcs.CallHold) {
		s.sendFail("", wcs.InfoCallNotFound)
		return
	}
	symbol := strings.ToUpper(string(req.DTMF))
	if res := s.invoke(hooks.SendDTMF, map[string]any{"callId": c.id, "dtmf": symbol, "type": string(req.Type)}); !s.allowed(hooks.SendDTMF, res) {
		return
	}
	if err := s.sendDTMF(c, symbol, string(req.Type)); err != nil {
		s.log.Info().Err(err).Str("callId", c.id).Str("dtmf", symbol).Msg("DTMF not sent")
		s.sendFail("", "DTMF not sent: "+err.Error())
	}
}

// sendDTMF sends one symbol on call c by way of typ: RFC2833 ("" too) from the media daemon, or
// INFO and INFO_RELAY in a SIP INFO.
func (s *Session) sendDTMF(c *sipCall, symbol, typ string) error {
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	var err error
	method := metrics.DTMFInfo
	switch typ {
	case "", "RFC2833":
		method = metrics.DTMFRFC4733
		err = s.callMedia().CallDTMF(ctx, c.node, control.CallDTMFRequest{Owner: s.callOwner(c.id), Symbol: symbol})
	case "INFO", "INFO_RELAY":
		switch {
		case c.out != nil:
			err = c.out.DTMF(ctx, symbol)
		case c.in != nil:
			err = c.in.DTMF(ctx, symbol)
		default:
			err = errors.New("the call is not established")
		}
	default:
		return fmt.Errorf("unknown DTMF type %q", typ)
	}
	if err == nil {
		s.m.DTMF(metrics.DTMFSent, method)
	}
	return err
}

// dtmfReceived is a DTMF symbol the peer sent in INFO (the SIP transaction's goroutine): logged
// and counted; the page is not told, the WebSDK has no message for it (§E.13).
func (s *Session) dtmfReceived(id, symbol string) {
	s.doCall(id, func(c *sipCall) {
		s.m.DTMF(metrics.DTMFReceived, metrics.DTMFInfo)
		s.log.Info().Str("callId", c.id).Str("dtmf", symbol).Msg("DTMF received")
	})
}

// setCallStatus sends a call's status message (§C.15) and its CallStatusEvent.
func (s *Session) setCallStatus(c *sipCall, status, info string, sipStatus int, hook string) {
	s.m.CallStatus(c.incoming, c.status, status, c.created)
	c.status = status
	if sipStatus != 0 {
		c.sipStatus = sipStatus
	}
	msg := wcs.MsgTalk
	switch status {
	case wcs.CallTrying:
		msg = wcs.MsgNotifyTryingResponse
	case wcs.CallRing, wcs.CallSessionProgress:
		msg = wcs.MsgRing
	case wcs.CallHold:
		msg = wcs.MsgHold
	case wcs.CallFinish, wcs.CallFailed, wcs.CallBusy:
		msg = wcs.MsgFinish
	}
	obj := c.object(status, info, sipStatus)
	s.send(msg, obj)
	s.post(hook, map[string]any{"callId": c.id, "status": status, "info": info, "sipStatus": sipStatus,
		"incoming": c.incoming, "caller": c.caller, "callee": c.callee})
}

// endCall ends a call once: its SIP side (CANCEL, reject or BYE), its media, and the page's
// finish with status and info.
func (s *Session) endCall(c *sipCall, status, info string, sipStatus int) {
	if s.sipCalls[c.id] != c {
		return
	}
	delete(s.sipCalls, c.id)
	s.setCallStatus(c, status, info, sipStatus, hooks.CallStatusEvent)
	s.releaseCall(c)
	s.log.Info().Str("callId", c.id).Str("status", status).Str("info", info).Msg("call ended")
}

// releaseCall hangs up a call's SIP side and stops its media, off the session's goroutine (a BYE
// and a stop each take a round trip).
func (s *Session) releaseCall(c *sipCall) {
	if c.cancel != nil {
		c.cancel() // an outgoing call still ringing sends CANCEL
	}
	out, in, node := c.out, c.in, c.node
	owner := s.callOwner(c.id)
	go func() {
		switch {
		case out != nil:
			out.Hangup()
		case in != nil:
			in.Hangup()
		}
		if node != "" {
			ctx, cancel := context.WithTimeout(context.Background(), stopBudget)
			defer cancel()
			if err := s.media.Stop(ctx, node, control.StopRequest{Owner: owner, Info: wcs.InfoNormalCallClearing}); err != nil {
				s.log.Debug().Err(err).Str("callId", owner.MediaSessionID).Msg("call media stop")
			}
		}
	}()
}

// onCallEvent is a media event of a call: a failed or closed WebRTC leg ends the call.
func (s *Session) onCallEvent(c *sipCall, ev control.MediaEvent) {
	if ev.Kind != control.EventState || ev.State == control.StateConnected {
		return
	}
	info := ev.Info
	if info == "" {
		info = wcs.InfoFailedByError
	}
	s.endCall(c, wcs.CallFailed, info, 0)
}

// endCalls ends every call of a session that ends (teardown): nothing is sent to the page.
func (s *Session) endCalls() {
	for id, c := range s.sipCalls {
		delete(s.sipCalls, id)
		s.m.CallGone(c.incoming, c.status)
		s.releaseCall(c)
	}
	if s.reg != nil {
		reg := s.reg
		s.reg = nil
		go reg.Close()
	}
}

// callInfo is what a page is told of a media daemon's refusal: its info when it is one a client
// may see (docs/protocol.md §D.4), else "Failed by error".
func callInfo(reply string) string {
	if reply != "" && wcs.KnownInfo(reply) {
		return reply
	}
	return wcs.InfoFailedByError
}
