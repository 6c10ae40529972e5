package sipua

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Re-INVITEs within an established call (docs/protocol.md §E.11): this side's, to hold and
// resume, and the peer's, which the call's owner answers through its ReinviteHandler.

// ReinviteHandler answers the SDP offer of a peer's re-INVITE with the SDP of the 200, or refuses
// it with an error (488). It runs on the SIP transaction's goroutine.
type ReinviteHandler func(offer []byte) (answer []byte, err error)

// ErrNoOffer: a re-INVITE without SDP (a late offer) is refused; Potok answers offers only.
var ErrNoOffer = errors.New("sipua: re-INVITE without an SDP offer")

// reinvites is a call's side of re-INVITEs: the handler of the peer's, and the lock that keeps
// this side's one at a time (RFC 3261 §14.1: no INVITE while another is in progress).
type reinvites struct {
	mu      sync.Mutex
	handler ReinviteHandler
	out     sync.Mutex
}

// OnReinvite sets what answers the peer's re-INVITEs; without one they are refused 488.
func (r *reinvites) OnReinvite(h ReinviteHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handler = h
}

func (r *reinvites) reinviteHandler() ReinviteHandler {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handler
}

// answerReinvite answers a peer's re-INVITE: 100, then the handler's 200 with SDP, or 488. seq
// checks its CSeq against the dialog's (a stale one is a 500, RFC 3261 §12.2.2).
func (a *Agent) answerReinvite(r *reinvites, contact sip.ContactHeader, seq func(*sip.Request, sip.ServerTransaction) error,
	req *sip.Request, tx sip.ServerTransaction) error {
	if err := seq(req, tx); err != nil {
		a.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return fmt.Errorf("sipua: re-INVITE: %w", err)
	}
	a.respond(tx, req, sip.StatusTrying, "Trying")
	h := r.reinviteHandler()
	offer := sdpOf(req)
	var answer []byte
	err := ErrNoOffer
	if h == nil {
		err = errors.New("sipua: re-INVITE before the call is set up")
	} else if offer != nil {
		answer, err = h(offer)
	}
	if err != nil {
		a.respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return err
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", answer)
	res.AppendHeader(sip.HeaderClone(&contact))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		return fmt.Errorf("sipua: re-INVITE answer: %w", err)
	}
	return nil
}

// sdpOf is a request's SDP body, nil when it has none.
func sdpOf(req *sip.Request) []byte {
	if ct := req.ContentType(); ct != nil && ct.Value() == "application/sdp" && len(req.Body()) > 0 {
		return req.Body()
	}
	return nil
}

// inDialog is what a re-INVITE needs of sipgo's client and server dialog sessions alike.
type inDialog interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
}

// reinvite sends a re-INVITE with sdp to target in dlg, waits for its final answer and ACKs a
// 2xx. A final answer other than 2xx is a *CallError; the call goes on as before it (RFC 3261
// §14.1).
func (r *reinvites) reinvite(ctx context.Context, dlg inDialog, target sip.Uri, sdp []byte) (Response, error) {
	r.out.Lock()
	defer r.out.Unlock()
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	res, err := dlg.Do(ctx, req)
	if err != nil {
		return Response{}, &CallError{Err: fmt.Errorf("re-INVITE: %w", err)}
	}
	if !res.IsSuccess() {
		return Response{}, &CallError{Code: res.StatusCode, Reason: res.Reason, Raw: res.String()}
	}
	ack := sip.NewRequest(sip.ACK, target)
	ack.SetBody(nil)
	if err := dlg.WriteRequest(ack); err != nil {
		return responseOf(res), fmt.Errorf("sipua: re-INVITE ACK: %w", err)
	}
	return responseOf(res), nil
}

// Reinvite sends a re-INVITE with sdp (hold: sendonly; resume: sendrecv) and returns its 2xx.
func (o *Outgoing) Reinvite(ctx context.Context, sdp []byte) (Response, error) {
	return o.reinvite(ctx, o.dlg, o.remoteTarget(), sdp)
}

// Reinvite sends a re-INVITE with sdp to the caller and returns its 2xx.
func (i *Incoming) Reinvite(ctx context.Context, sdp []byte) (Response, error) {
	return i.reinvite(ctx, i.dlg, i.remoteTarget(), sdp)
}

// remoteTarget is where in-dialog requests go: the peer's Contact (RFC 3261 §12.1.2).
func (o *Outgoing) remoteTarget() sip.Uri {
	if c := o.dlg.InviteResponse.Contact(); c != nil {
		return c.Address
	}
	return o.dlg.InviteRequest.Recipient
}

func (i *Incoming) remoteTarget() sip.Uri {
	if c := i.req.Contact(); c != nil {
		return c.Address
	}
	return i.req.From().Address
}

func (o *Outgoing) readInvite(req *sip.Request, tx sip.ServerTransaction) error {
	return o.a.answerReinvite(&o.reinvites, o.dlg.UA.ContactHDR, o.dlg.ReadRequest, req, tx)
}

func (i *Incoming) readInvite(req *sip.Request, tx sip.ServerTransaction) error {
	return i.a.answerReinvite(&i.reinvites, i.reg.contact, i.dlg.ReadRequest, req, tx)
}

var (
	_ inDialog = (*sipgo.DialogClientSession)(nil)
	_ inDialog = (*sipgo.DialogServerSession)(nil)
)
