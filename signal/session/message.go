package session

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/sipua"
)

// SIP MESSAGE (docs/protocol.md §B.23, §E.15): the legacy client's sendMessage goes out as a SIP
// MESSAGE through the account's proxy, and its answer comes back as notifyMessage ACCEPTED or
// FAILED; a MESSAGE to the session's registered login is offered to the OnMessageEvent hook
// (which may refuse it: 403 to the sender) and shown as notifyMessage RECEIVED. WebSDK 2.0 has no
// messaging call: only older clients use these.

// messageTimeout bounds a MESSAGE's transaction; receivedBudget how long a received one may
// wait for the session and its OnMessageEvent hook before it is refused.
const (
	messageTimeout = 10 * time.Second
	receivedBudget = 15 * time.Second
)

func (s *Session) onSendMessage(env wcs.Envelope) {
	var req struct {
		ID             wcs.String `json:"id"`
		From           wcs.String `json:"from"`
		To             wcs.String `json:"to"`
		Body           wcs.String `json:"body"`
		ContentType    wcs.String `json:"contentType"`
		IsImdnRequired wcs.Bool   `json:"isImdnRequired"`
	}
	if err := env.Arg(0, &req); err != nil {
		s.badArgument(env, err)
		return
	}
	m := wcs.SIPMessage{ID: string(req.ID), From: string(req.From), To: string(req.To), Body: string(req.Body),
		ContentType: string(req.ContentType), IsImdnRequired: bool(req.IsImdnRequired)}
	if m.ContentType == "" {
		m.ContentType = "text/plain"
	}
	if m.From == "" && s.sipAcc != nil {
		m.From = s.sipAcc.Login
	}
	switch {
	case s.cfg.SIP == nil:
		s.messageStatus(m, wcs.MessageFailed, wcs.InfoSIPNotConfigured, "")
		return
	case s.sipAcc == nil || s.sipAcc.Valid() != nil:
		s.messageStatus(m, wcs.MessageFailed, wcs.InfoNotRegistered, "")
		return
	case m.To == "":
		s.messageStatus(m, wcs.MessageFailed, "Bad message: no recipient", "")
		return
	}
	res := s.invoke(hooks.SendMessage, map[string]any{"id": m.ID, "from": m.From, "to": m.To, "body": m.Body,
		"contentType": m.ContentType, "isImdnRequired": m.IsImdnRequired})
	if proceed, _ := hooks.Decide(hooks.SendMessage, res, s.hookCfg.Load()); !proceed {
		s.messageStatus(m, wcs.MessageFailed, res.Info, "")
		return
	}
	acc := *s.sipAcc
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, messageTimeout)
		defer cancel()
		r, err := s.cfg.SIP.SendMessage(ctx, acc, m.To, m.ContentType, []byte(m.Body))
		done, stop := context.WithTimeout(context.Background(), stopBudget)
		defer stop()
		s.Do(done, func() {
			if err == nil {
				s.messageStatus(m, wcs.MessageAccepted, strconv.Itoa(r.Code)+" "+r.Reason, r.Raw)
				return
			}
			info := wcs.InfoFailedByRequestTimeout
			var ce *sipua.CallError
			if errors.As(err, &ce) && ce.Code != 0 {
				info = strconv.Itoa(ce.Code) + " " + ce.Reason
			}
			s.log.Info().Err(err).Str("to", m.To).Msg("SIP MESSAGE not accepted")
			s.messageStatus(m, wcs.MessageFailed, info, "")
		})
	}()
}

// messageStatus tells the page and the backend a message's status.
func (s *Session) messageStatus(m wcs.SIPMessage, status, info, raw string) {
	m.Status, m.Info, m.SIPMessageRaw = status, info, raw
	s.send(wcs.MsgNotifyMessage, m, map[string]string{"id": m.ID})
	s.post(hooks.MessageStatusEvent, map[string]any{"id": m.ID, "from": m.From, "to": m.To, "body": m.Body,
		"contentType": m.ContentType, "isImdnRequired": m.IsImdnRequired, "status": status, "info": info, "sipMessageRaw": raw})
}

// messageReceived is a MESSAGE to the session's login (the SIP transaction's goroutine): the
// backend may refuse it, else the page gets it.
func (s *Session) messageReceived(msg sipua.Message) error {
	refused := errors.New("the session has ended")
	ctx, cancel := context.WithTimeout(context.Background(), receivedBudget)
	defer cancel()
	s.Do(ctx, func() {
		s.msgSeq++
		m := wcs.SIPMessage{ID: s.cfg.SessionID + "-msg-" + strconv.Itoa(s.msgSeq), From: msg.From, To: msg.To,
			Body: string(msg.Body), ContentType: msg.ContentType, Status: wcs.MessageReceived, SIPMessageRaw: msg.Raw}
		res := s.invoke(hooks.OnMessageEvent, map[string]any{"id": m.ID, "from": m.From, "to": m.To, "body": m.Body,
			"contentType": m.ContentType, "isImdnRequired": false, "status": m.Status, "sipMessageRaw": m.SIPMessageRaw})
		if proceed, _ := hooks.Decide(hooks.OnMessageEvent, res, s.hookCfg.Load()); !proceed {
			refused = errors.New("refused by the backend: " + res.Info)
			return
		}
		refused = nil
		s.send(wcs.MsgNotifyMessage, m, map[string]string{"id": m.ID})
		s.log.Info().Str("from", m.From).Int("bytes", len(m.Body)).Msg("SIP MESSAGE received")
	})
	return refused
}
