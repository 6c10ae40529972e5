package session

import (
	"context"
	"errors"
	"strings"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
)

// The REST API's view of a session's SIP calls (docs/protocol.md §G.2 /call/*). These act on the
// backend's behalf: no hook is called for them.

// Calls are the session's calls that f matches (/call/find, /call/find_all).
func (s *Session) Calls(ctx context.Context, f rest.CallFilter) []rest.Call {
	var out []rest.Call
	s.Do(ctx, func() {
		for _, c := range s.sipCalls {
			if f.CallID != "" && f.CallID != c.id || f.Callee != "" && f.Callee != c.callee ||
				f.Status != "" && !strings.EqualFold(f.Status, c.status) {
				continue
			}
			out = append(out, rest.Call{NodeID: s.cfg.NodeID, AppKey: s.appKey, SessionID: s.cfg.SessionID, CallID: c.id,
				Incoming: c.incoming, Status: c.status, SIPStatus: c.sipStatus, Caller: c.caller, Callee: c.callee,
				VisibleName: c.visibleName, HasAudio: true, HasVideo: c.hasVideo, MediaProvider: "WebRTC", Custom: c.custom})
		}
	})
	return out
}

// TerminateCall hangs up call id (/call/terminate): the page gets finish FINISH "Normal call
// clearing", the SIP side its CANCEL, 486 or BYE. False: the session has no such call.
func (s *Session) TerminateCall(ctx context.Context, id string) bool {
	found := false
	s.Do(ctx, func() {
		if c := s.sipCalls[id]; c != nil {
			found = true
			s.log.Info().Str("callId", id).Msg("call terminated by the REST API")
			s.endCall(c, wcs.CallFinish, wcs.InfoNormalCallClearing, 0)
		}
	})
	return found
}

// CallDTMF sends a DTMF symbol on an established call (/call/send_dtmf). found is false when the
// session has no such call; err says why the symbol was not sent.
func (s *Session) CallDTMF(ctx context.Context, d rest.CallDTMF) (found bool, err error) {
	s.Do(ctx, func() {
		c := s.sipCalls[d.CallID]
		if c == nil {
			return
		}
		found = true
		if c.status != wcs.CallEstablished && c.status != wcs.CallHold {
			err = errCallNotEstablished
			return
		}
		err = s.sendDTMF(c, strings.ToUpper(d.DTMF), strings.ToUpper(d.Type))
	})
	return found, err
}

var errCallNotEstablished = errors.New("the call is not established")
