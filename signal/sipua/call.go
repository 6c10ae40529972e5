package sipua

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

func sipgoDigest(acc Account) sipgo.DigestAuth {
	return sipgo.DigestAuth{Username: acc.authName(), Password: acc.Password}
}

// Response is a SIP response a call's progress reports: its status, reason, SDP body (nil when
// none) and the whole message (sipMessageRaw).
type Response struct {
	Code   int
	Reason string
	SDP    []byte
	Raw    string
}

func responseOf(res *sip.Response) Response {
	r := Response{Code: res.StatusCode, Reason: res.Reason, Raw: res.String()}
	if ct := res.ContentType(); ct != nil && ct.Value() == "application/sdp" && len(res.Body()) > 0 {
		r.SDP = res.Body()
	}
	return r
}

// CallError is an INVITE that did not get a 2xx: Code is its final status (0: no final
// response came, Err says why).
type CallError struct {
	Code   int
	Reason string
	Raw    string
	Err    error
}

func (e *CallError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("sipua: call: %d %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("sipua: call: %v", e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// ErrRingTimeout: nobody answered within the ring timeout.
var ErrRingTimeout = errors.New("sipua: ring timeout")

// Outgoing is an established outgoing call.
type Outgoing struct {
	a      *Agent
	dlg    *sipgo.DialogClientSession
	id     string
	key    string // dialogKey: the Call-ID and our From tag
	answer Response
	once   sync.Once
	reinvites
	transfers
	infos
}

// newRequest is a request from acc to target outside any dialog, through the account's proxy:
// From (with a new tag) and To, a new Call-ID. It returns the Call-ID and the From tag.
func newRequest(method sip.RequestMethod, acc Account, target sip.Uri) (req *sip.Request, callID, tag string) {
	req = sip.NewRequest(method, target)
	req.SetDestination(acc.next())
	tag = sip.GenerateTagN(16)
	from := sip.FromHeader{DisplayName: acc.VisibleName, Address: acc.aor()}
	from.Params.Add("tag", tag)
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: target})
	id := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&id)
	return req, string(id), tag
}

// Dial calls callee from acc with the offer sdp and waits for the final answer: progress gets
// every provisional response (100, 180, 183 with or without SDP). Ending ctx before the answer
// cancels the call (CANCEL); so does the ring timeout (ErrRingTimeout). A final answer other
// than 2xx is a *CallError with its status.
func (a *Agent) Dial(ctx context.Context, acc Account, callee string, sdp []byte, progress func(Response)) (*Outgoing, error) {
	if err := acc.Valid(); err != nil {
		return nil, &CallError{Err: err}
	}
	target, err := acc.Target(callee)
	if err != nil {
		return nil, &CallError{Err: err}
	}
	contact := a.contact(acc.Login, acc.ContactParams)
	dua := &sipgo.DialogUA{Client: a.cli, ContactHDR: contact}
	req, id, tag := newRequest(sip.INVITE, acc, target)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	o := &Outgoing{a: a, id: id, key: dialogKey(id, tag)}
	ring, cancel := context.WithTimeoutCause(ctx, a.cfg.RingTimeout, ErrRingTimeout)
	defer cancel()
	dlg, err := dua.WriteInvite(ring, req)
	if err != nil {
		return nil, &CallError{Err: fmt.Errorf("invite: %w", err)}
	}
	o.dlg = dlg
	a.addDialog(o.key, o) // a BYE may follow the 200 at once
	err = dlg.WaitAnswer(ring, sipgo.AnswerOptions{Username: acc.authName(), Password: acc.Password,
		OnResponse: func(res *sip.Response) error {
			if res.IsProvisional() && progress != nil {
				progress(responseOf(res))
			}
			return nil
		}})
	if err != nil {
		a.removeDialog(o.key, o)
		_ = dlg.Close()
		var dr *sipgo.ErrDialogResponse
		if errors.As(err, &dr) {
			return nil, &CallError{Code: dr.Res.StatusCode, Reason: dr.Res.Reason, Raw: dr.Res.String(), Err: err}
		}
		if errors.Is(context.Cause(ring), ErrRingTimeout) {
			return nil, &CallError{Err: ErrRingTimeout}
		}
		return nil, &CallError{Err: err}
	}
	o.answer = responseOf(dlg.InviteResponse)
	if err := dlg.Ack(ctx); err != nil {
		a.log.Warn().Err(err).Str("callId", o.id).Msg("ack not sent")
	}
	return o, nil
}

// ID is the call's SIP Call-ID.
func (o *Outgoing) ID() string { return o.id }

// Answer is the 2xx that established the call.
func (o *Outgoing) Answer() Response { return o.answer }

// Done is closed when the call has ended: the peer's BYE, or Hangup.
func (o *Outgoing) Done() <-chan struct{} { return o.dlg.Context().Done() }

// Hangup ends the call with BYE (once; bounded by the agent's request timeout).
func (o *Outgoing) Hangup() {
	o.once.Do(func() {
		ctx, cancel := context.WithTimeout(o.a.ctx, o.a.cfg.RequestTimeout)
		defer cancel()
		if err := o.dlg.Bye(ctx); err != nil {
			o.a.log.Debug().Err(err).Str("callId", o.id).Msg("bye")
		}
		o.a.removeDialog(o.key, o)
	})
}

func (o *Outgoing) readAck(*sip.Request, sip.ServerTransaction) error { return nil }

func (o *Outgoing) readBye(req *sip.Request, tx sip.ServerTransaction) error {
	defer o.a.removeDialog(o.key, o)
	return o.dlg.ReadBye(req, tx)
}

// Incoming is a call to a registered login. Its handler (the session) answers it with Ring,
// Answer or Reject; Done tells when the caller gave up (CANCEL), the ring timeout passed, or,
// once answered, when the call ended.
type Incoming struct {
	a     *Agent
	reg   *Registration
	dlg   *sipgo.DialogServerSession
	req   *sip.Request
	id    string
	key   string        // dialogKey: the Call-ID and our To tag
	final chan struct{} // closed once Answer or Reject chose the final response
	once  sync.Once
	// The final response, set before final is closed: answerSDP (200) or code and reason.
	answerSDP []byte
	code      int
	reason    string
	bye       sync.Once

	mu       sync.Mutex
	answered bool
	why      error // why it ended before an answer: ErrRingTimeout, or nil (cancelled)

	reinvites
	transfers
	infos
}

// onInvite routes an INVITE to the registration of its user and holds its transaction until the
// call has its final answer.
func (a *Agent) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if d := a.dialogOf(req); d != nil {
		if err := d.readInvite(req, tx); err != nil {
			a.log.Info().Err(err).Str("callId", callID(req)).Msg("re-INVITE refused")
		}
		return
	}
	reg := a.registration(req.Recipient.User)
	if reg == nil && req.To() != nil {
		reg = a.registration(req.To().Address.User)
	}
	if reg == nil || reg.incoming == nil {
		a.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	dua := &sipgo.DialogUA{Client: a.cli, ContactHDR: reg.contact}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		a.respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	inc := &Incoming{a: a, reg: reg, dlg: dlg, req: req, id: callID(req), key: dialogKey(callID(req), tag), final: make(chan struct{})}
	_ = dlg.Respond(sip.StatusTrying, "Trying", nil)
	a.addDialog(inc.key, inc)
	reg.incoming(inc)
	select {
	case <-inc.final:
	case <-dlg.Context().Done(): // CANCEL: sipgo has answered the INVITE 487
		inc.end(nil)
		return
	case <-time.After(a.cfg.RingTimeout):
		inc.end(ErrRingTimeout)
		inc.Reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
	case <-a.ctx.Done():
		inc.Reject(sip.StatusServiceUnavailable, "Service Unavailable")
	}
	inc.respondFinal()
}

func (i *Incoming) end(why error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.answered && i.why == nil {
		i.why = why
	}
}

// ID is the call's SIP Call-ID (WCS uses it as the callId, docs/protocol.md §C.14).
func (i *Incoming) ID() string { return i.id }

// Caller is the From user and display name.
func (i *Incoming) Caller() (user, display string) {
	if f := i.req.From(); f != nil {
		return f.Address.User, f.DisplayName
	}
	return "", ""
}

// Callee is the login called.
func (i *Incoming) Callee() string { return i.reg.acc.Login }

// Offer is the INVITE's SDP (nil: a late offer).
func (i *Incoming) Offer() []byte {
	if ct := i.req.ContentType(); ct != nil && ct.Value() == "application/sdp" {
		return i.req.Body()
	}
	return nil
}

// Raw is the INVITE as received.
func (i *Incoming) Raw() string { return i.req.String() }

// Ring sends 180 Ringing.
func (i *Incoming) Ring() error { return i.dlg.Respond(sip.StatusRinging, "Ringing", nil) }

// Answer accepts the call with the SDP answer sdp. It returns at once: the INVITE's own
// goroutine (onInvite) sends the 200 and retransmits it until the caller's ACK comes (up to 32 s,
// RFC 3261 §13.3.1.4), so that a lost ACK holds up no session. A call whose ACK never comes is
// ended with BYE.
func (i *Incoming) Answer(sdp []byte) error {
	if len(sdp) == 0 {
		return errors.New("sipua: answer without SDP")
	}
	answered := false
	i.once.Do(func() {
		answered = true
		i.mu.Lock()
		i.answered = true
		i.mu.Unlock()
		i.answerSDP = sdp
		close(i.final)
	})
	if !answered {
		return errors.New("sipua: the call has its final answer already")
	}
	return nil
}

// Reject refuses the call (486 Busy Here, 603 Decline, …) unless it has its final answer; as
// Answer, it does not wait for the response to be acknowledged.
func (i *Incoming) Reject(code int, reason string) {
	i.once.Do(func() {
		i.code, i.reason = code, reason
		close(i.final)
	})
}

// respondFinal sends the final response Answer or Reject chose and waits for its ACK (onInvite's
// goroutine, which holds the INVITE's transaction).
func (i *Incoming) respondFinal() {
	if i.answerSDP != nil {
		if err := i.dlg.RespondSDP(i.answerSDP); err != nil {
			i.a.log.Info().Err(err).Str("callId", i.id).Msg("answered call not acknowledged: hanging up")
			i.Hangup()
		}
		return
	}
	if err := i.dlg.Respond(i.code, i.reason, nil); err != nil {
		i.a.log.Debug().Err(err).Str("callId", i.id).Msg("reject")
	}
	i.a.removeDialog(i.key, i)
}

// Done is closed once the call is over: cancelled or timed out before an answer, ended by a BYE
// either way after.
func (i *Incoming) Done() <-chan struct{} { return i.dlg.Context().Done() }

// EndedBy is why an unanswered call ended: ErrRingTimeout, or nil (the caller cancelled).
func (i *Incoming) EndedBy() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.why
}

// Hangup ends an answered call with BYE, or refuses an unanswered one (486).
func (i *Incoming) Hangup() {
	i.mu.Lock()
	answered := i.answered
	i.mu.Unlock()
	if !answered {
		i.Reject(sip.StatusBusyHere, "Busy Here")
		return
	}
	i.bye.Do(func() {
		ctx, cancel := context.WithTimeout(i.a.ctx, i.a.cfg.RequestTimeout)
		defer cancel()
		if err := i.dlg.Bye(ctx); err != nil {
			i.a.log.Debug().Err(err).Str("callId", i.id).Msg("bye")
		}
		i.a.removeDialog(i.key, i)
	})
}

func (i *Incoming) readAck(req *sip.Request, tx sip.ServerTransaction) error {
	return i.dlg.ReadAck(req, tx)
}

func (i *Incoming) readBye(req *sip.Request, tx sip.ServerTransaction) error {
	defer i.a.removeDialog(i.key, i)
	return i.dlg.ReadBye(req, tx)
}

// dtmfRelay is the body of a SIP INFO carrying one DTMF symbol (application/dtmf-relay).
func dtmfRelay(symbol string) []byte {
	return []byte("Signal=" + symbol + "\r\nDuration=160\r\n")
}

// infoRequest is an in-dialog INFO to target carrying a DTMF symbol.
func infoRequest(target sip.Uri, symbol string) *sip.Request {
	req := sip.NewRequest(sip.INFO, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody(dtmfRelay(symbol))
	return req
}

// DTMF sends a DTMF symbol in a SIP INFO (docs/protocol.md §E.13) and waits for its answer.
func (o *Outgoing) DTMF(ctx context.Context, symbol string) error {
	return infoAnswered(o.dlg.Do(ctx, infoRequest(o.remoteTarget(), symbol)))
}

// DTMF sends a DTMF symbol in a SIP INFO to the caller and waits for its answer.
func (i *Incoming) DTMF(ctx context.Context, symbol string) error {
	return infoAnswered(i.dlg.Do(ctx, infoRequest(i.remoteTarget(), symbol)))
}

func infoAnswered(res *sip.Response, err error) error {
	if err != nil {
		return fmt.Errorf("sipua: info: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("sipua: info: %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
