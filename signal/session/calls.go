package session

import (
	"encoding/json"

	"github.com/potok-media/potok/api/wcs"
)

// onCallRequest answers every call message while Potok has no SIP bridge (docs/protocol.md
// §B.12): the call named by callId ends with finish FAILED, which the SDK takes as terminal and
// drops the call, so a page never waits for a ring that cannot come. A message without a callId
// has no call to end and gets a fail (WARN) instead.
func (s *Session) onCallRequest(env wcs.Envelope) {
	var obj map[string]json.RawMessage
	var id wcs.String
	if env.Arg(0, &obj) == nil {
		if raw, ok := obj["callId"]; ok {
			_ = json.Unmarshal(raw, &id)
		}
	}
	s.log.Info().Str("message", env.Message).Str("callId", string(id)).Msg("call request refused: no SIP")
	if id == "" {
		s.sendFail("", wcs.InfoCallsNotSupported)
		return
	}
	s.send(wcs.MsgFinish, wcs.CallStatus{CallID: string(id), Status: wcs.CallFailed, Info: wcs.InfoCallsNotSupported})
}
