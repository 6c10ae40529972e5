package sipua

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// SIP MESSAGE (docs/protocol.md §E.15): a page's text to a SIP user, sent outside any dialog
// through the account's proxy, and a SIP user's text to a registered page.

// MaxMessageSize bounds a MESSAGE body, sent or received (RFC 3428 §7: MESSAGE is for short
// texts; larger ones belong to a session).
const MaxMessageSize = 16 << 10

// Message is a MESSAGE received for a registered login.
type Message struct {
	From, To    string // the From and To URIs' users
	ContentType string
	Body        []byte
	Raw         string
}

// MessageHandler decides on a received MESSAGE: nil accepts it (200), an error refuses it (403).
type MessageHandler func(Message) error

// messages is a registration's MESSAGE handler.
type messages struct {
	mu sync.Mutex
	h  MessageHandler
}

// OnMessage sets what gets the MESSAGEs to this registration's login; without one they are 480.
func (r *Registration) OnMessage(h MessageHandler) {
	r.msgs.mu.Lock()
	defer r.msgs.mu.Unlock()
	r.msgs.h = h
}

// SendMessage sends a MESSAGE from acc to to (a number, a user or a SIP URI, as a callee) with
// body of contentType, answering a proxy's digest challenge, and returns the final answer; one
// other than 2xx is a *CallError.
func (a *Agent) SendMessage(ctx context.Context, acc Account, to, contentType string, body []byte) (Response, error) {
	if err := acc.Valid(); err != nil {
		return Response{}, &CallError{Err: err}
	}
	if len(body) > MaxMessageSize {
		return Response{}, &CallError{Err: fmt.Errorf("message of %d bytes, more than %d", len(body), MaxMessageSize)}
	}
	target, err := acc.Target(to)
	if err != nil {
		return Response{}, &CallError{Err: err}
	}
	if contentType == "" {
		contentType = "text/plain"
	}
	req, _, _ := newRequest(sip.MESSAGE, acc, target)
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	res, err := a.cli.Do(ctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		res, err = a.cli.DoDigestAuth(ctx, req, res, sipgoDigest(acc))
	}
	if err != nil {
		return Response{}, &CallError{Err: fmt.Errorf("message: %w", err)}
	}
	if !res.IsSuccess() {
		return Response{}, &CallError{Code: res.StatusCode, Reason: res.Reason, Raw: res.String()}
	}
	return responseOf(res), nil
}

// onMessage routes a MESSAGE to the registration of its user.
func (a *Agent) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	reg := a.registration(req.Recipient.User)
	if reg == nil && req.To() != nil {
		reg = a.registration(req.To().Address.User)
	}
	if reg == nil {
		a.respond(tx, req, sip.StatusNotFound, "Not Found")
		return
	}
	if len(req.Body()) > MaxMessageSize {
		a.respond(tx, req, sip.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	reg.msgs.mu.Lock()
	h := reg.msgs.h
	reg.msgs.mu.Unlock()
	if h == nil {
		a.respond(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return
	}
	m := Message{To: reg.acc.Login, Body: req.Body(), Raw: req.String()}
	if f := req.From(); f != nil {
		m.From = f.Address.User
	}
	if ct := req.ContentType(); ct != nil {
		m.ContentType = strings.TrimSpace(ct.Value())
	}
	if err := h(m); err != nil {
		a.respond(tx, req, sip.StatusForbidden, "Forbidden")
		return
	}
	a.respond(tx, req, sip.StatusOK, "OK")
}
