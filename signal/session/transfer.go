package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/sipua"
)

// Blind transfer (docs/protocol.md §B.18, §C.16, §E.12): the page asks the SIP peer, by REFER, to
// call the target. notifyTransferEvent tells the page ACCEPTED (the REFER's 202), TRYING, then
// COMPLETED (the target answered: this call ends FINISH, with BYE) or FAILED (the call goes on as
// it was, usually on hold). Every status is posted as TransferStatusEvent.

// transfer is a call's transfer in progress (sipCall.transfer; nil when none).
type transfer struct {
	target   string
	accepted bool // ACCEPTED was sent
}

func (s *Session) onTransfer(env wcs.Envelope) {
	var req struct {
		CallID wcs.String `json:"callId"`
		Target wcs.String `json:"target"`
	}
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	c := s.sipCalls[string(req.CallID)]
	if c == nil || (c.status != wcs.CallEstablished && c.status != wcs.CallHold) || c.sipSide() == nil {
		s.sendFail("", wcs.InfoCallNotFound)
		return
	}
	target := string(req.Target)
	switch {
	case target == "":
		s.sendFail("", "Bad transfer message: no target")
		return
	case c.transfer != nil:
		s.sendFail("", "A transfer of this call is in progress")
		return
	}
	uri, err := s.sipAcc.Target(target)
	if err != nil {
		s.sendFail("", "Bad transfer target: "+err.Error())
		return
	}
	if res := s.invoke(hooks.Transfer, map[string]any{"callId": c.id, "target": target, "incoming": c.incoming}); !s.allowed(hooks.Transfer, res) {
		return
	}
	c.transfer = &transfer{target: target}
	id, side := c.id, c.sipSide()
	progress := func(p sipua.TransferProgress) { s.doCall(id, func(c *sipCall) { s.transferProgress(c, p) }) }
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, reinviteTimeout)
		defer cancel()
		_, err := side.Refer(ctx, uri, progress)
		s.doCall(id, func(c *sipCall) { s.referAnswered(c, err) })
	}()
}

// referAnswered: the peer accepted the REFER (ACCEPTED, unless a NOTIFY said so first) or
// refused it (FAILED, with its status).
func (s *Session) referAnswered(c *sipCall, err error) {
	if c.transfer == nil {
		return
	}
	if err == nil {
		s.transferAccepted(c)
		return
	}
	info := wcs.InfoFailedByRequestTimeout
	var ce *sipua.CallError
	if errors.As(err, &ce) && ce.Code != 0 {
		info = strconv.Itoa(ce.Code) + " " + ce.Reason
	}
	s.log.Info().Err(err).Str("callId", c.id).Msg("REFER refused")
	s.transferStatus(c, wcs.TransferFailed, info, "")
	c.transfer = nil
}

func (s *Session) transferAccepted(c *sipCall) {
	if !c.transfer.accepted {
		c.transfer.accepted = true
		s.transferStatus(c, wcs.TransferAccepted, "", "")
	}
}

// transferProgress is a NOTIFY of the transfer: TRYING while the target rings, COMPLETED when it
// answered, FAILED when it refused.
func (s *Session) transferProgress(c *sipCall, p sipua.TransferProgress) {
	if c.transfer == nil {
		return
	}
	s.transferAccepted(c) // a NOTIFY may overtake the REFER's 202
	info := fmt.Sprintf("%d %s", p.Code, p.Reason)
	switch {
	case p.Code < 200 && !p.Final:
		s.transferStatus(c, wcs.TransferTrying, info, p.Raw)
	case p.Code >= 200 && p.Code < 300:
		s.transferStatus(c, wcs.TransferCompleted, info, p.Raw)
		c.transfer = nil
		s.endCall(c, wcs.CallFinish, wcs.InfoNormalCallClearing, 0)
	default:
		s.transferStatus(c, wcs.TransferFailed, info, p.Raw)
		c.transfer = nil
	}
}

func (s *Session) transferStatus(c *sipCall, status, info, raw string) {
	s.send(wcs.MsgNotifyTransferEvent, wcs.TransferEvent{CallID: c.id, Status: status, Incoming: c.incoming,
		Target: c.transfer.target, Info: info})
	s.post(hooks.TransferStatusEvent, map[string]any{"callId": c.id, "incoming": c.incoming, "status": status,
		"target": c.transfer.target, "info": info, "sipMessageRaw": raw, "hasVideo": c.hasVideo})
	s.log.Info().Str("callId", c.id).Str("target", c.transfer.target).Str("status", status).Str("info", info).Msg("transfer")
}
