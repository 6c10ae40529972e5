package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/sipua"
)

// Hold and resume (docs/protocol.md §B.15, §B.16, §E.11). The media daemon holds the call's state:
// the relay between the legs stops while either side holds it, and it writes the RTP leg's SDP
// for each re-INVITE. The page's hold sends a re-INVITE (sendonly, resume sendrecv) and is HOLD
// once the peer accepted it; the peer's re-INVITE is answered (recvonly to sendonly) and shown to
// the page as HOLD or ESTABLISHED. No WebRTC renegotiation happens: the SDK cannot renegotiate.

// reinviteTimeout bounds a re-INVITE of ours: the peer answers it at once, it does not ring.
const reinviteTimeout = 10 * time.Second

// sipSide is what hold and transfer need of an established call's SIP side (*sipua.Outgoing or
// *sipua.Incoming).
type sipSide interface {
	Reinvite(ctx context.Context, sdp []byte) (sipua.Response, error)
	Refer(ctx context.Context, target sip.Uri, progress func(sipua.TransferProgress)) (sipua.Response, error)
}

// sipSide is the call's SIP side, nil before it has one.
func (c *sipCall) sipSide() sipSide {
	switch {
	case c.out != nil:
		return c.out
	case c.in != nil:
		return c.in
	}
	return nil
}

func (s *Session) onHold(env wcs.Envelope)   { s.hold(env, true) }
func (s *Session) onUnhold(env wcs.Envelope) { s.hold(env, false) }

// hold asks the daemon to hold or resume, then re-INVITEs the peer on the call's own goroutine
// (a SIP round trip); heldByPage finishes on the session's goroutine.
func (s *Session) hold(env wcs.Envelope, on bool) {
	var req wcs.CallID
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	c := s.sipCalls[string(req.CallID)]
	if c == nil || (c.status != wcs.CallEstablished && c.status != wcs.CallHold) || c.sipSide() == nil {
		s.sendFail("", wcs.InfoCallNotFound)
		return
	}
	method := hooks.Unhold
	if on {
		method = hooks.Hold
	}
	if res := s.invoke(method, map[string]any{"callId": c.id}); !s.allowed(method, res) {
		return
	}
	rep, err := s.holdMedia(c, control.CallHoldRequest{Owner: s.callOwner(c.id), Hold: on})
	if err != nil {
		s.log.Info().Err(err).Str("callId", c.id).Msg("hold refused by the media daemon")
		s.sendFail("", wcs.InfoFailedByError)
		return
	}
	id, side, sdp := c.id, c.sipSide(), []byte(rep.SIPOffer)
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, reinviteTimeout)
		defer cancel()
		_, err := side.Reinvite(ctx, sdp)
		s.doCall(id, func(c *sipCall) { s.heldByPage(c, on, rep.Hold, err) })
	}()
}

// heldByPage ends a hold or resume of the page's: the call's status, or, when the peer refused
// the re-INVITE, the media as it was and a fail naming the answer (the call goes on, RFC 3261
// §14.1).
func (s *Session) heldByPage(c *sipCall, on, held bool, reinviteErr error) {
	if reinviteErr == nil {
		s.showHold(c, held, true)
		return
	}
	s.log.Info().Err(reinviteErr).Str("callId", c.id).Bool("hold", on).Msg("re-INVITE refused")
	if _, err := s.holdMedia(c, control.CallHoldRequest{Owner: s.callOwner(c.id), Hold: !on}); err != nil {
		s.log.Info().Err(err).Str("callId", c.id).Msg("hold not undone")
	}
	what := "Unhold"
	if on {
		what = "Hold"
	}
	var ce *sipua.CallError
	if errors.As(reinviteErr, &ce) && ce.Code != 0 {
		s.sendFail("", fmt.Sprintf("%s failed: %d %s", what, ce.Code, ce.Reason))
		return
	}
	s.sendFail("", what+" failed: "+wcs.InfoFailedByRequestTimeout)
}

// peerReinvite answers the SIP peer's re-INVITE (the SIP transaction's goroutine): the daemon
// writes the answer and says whether the call is held now, which the page is shown.
func (s *Session) peerReinvite(id string, offer []byte) ([]byte, error) {
	var answer []byte
	err := errors.New("the call has ended")
	s.doCall(id, func(c *sipCall) {
		var rep control.CallHoldReply
		if rep, err = s.holdMedia(c, control.CallHoldRequest{Owner: s.callOwner(c.id), SIPOffer: string(offer)}); err != nil {
			return
		}
		answer = []byte(rep.SIPAnswer)
		s.showHold(c, rep.Hold, false)
	})
	return answer, err
}

func (s *Session) holdMedia(c *sipCall, req control.CallHoldRequest) (control.CallHoldReply, error) {
	ctx, cancel := context.WithTimeout(s.ctx, control.RequestTimeout)
	defer cancel()
	return s.callMedia().CallHold(ctx, c.node, req)
}

// showHold sends the call's status when the hold changed it, or always when the page asked (it
// waits for hold or talk).
func (s *Session) showHold(c *sipCall, held, asked bool) {
	if c.status != wcs.CallEstablished && c.status != wcs.CallHold {
		return // ended meanwhile
	}
	status := wcs.CallEstablished
	if held {
		status = wcs.CallHold
	}
	if status != c.status || asked {
		s.setCallStatus(c, status, "", 0, hooks.CallStatusEvent)
	}
}
