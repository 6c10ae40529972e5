package sipua

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Blind transfer, this side the transferor (docs/protocol.md §E.12): a REFER within the call
// asks the peer to call the target; the peer reports the new call's progress in NOTIFYs whose
// body is the status line of its responses (message/sipfrag, RFC 3515). A REFER from the peer
// (this side the transferee) is declined 603: Potok does not place the new call yet.

// TransferProgress is one NOTIFY of a transfer: the target's status (100 Trying, 180 Ringing,
// 200 OK, 486 Busy Here…), whether it is the last one, and the NOTIFY as received.
type TransferProgress struct {
	Code   int
	Reason string
	Final  bool // Subscription-State: terminated, or a final status
	Raw    string
}

// transfers is a call's side of its REFER: where the NOTIFYs of a transfer in progress go.
type transfers struct {
	mu       sync.Mutex
	progress func(TransferProgress)
}

func (t *transfers) setProgress(f func(TransferProgress)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.progress = f
}

// MaxSipfragSize bounds a NOTIFY body read: a sipfrag is a status line and a few headers.
const MaxSipfragSize = 4 << 10

// ParseSipfrag reads the status line of a message/sipfrag body ("SIP/2.0 180 Ringing").
func ParseSipfrag(body []byte) (code int, reason string, err error) {
	if len(body) > MaxSipfragSize {
		return 0, "", fmt.Errorf("sipua: sipfrag of %d bytes, more than %d", len(body), MaxSipfragSize)
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	proto, rest, ok := strings.Cut(strings.TrimSpace(string(line)), " ")
	if !ok || !strings.HasPrefix(proto, "SIP/") {
		return 0, "", fmt.Errorf("sipua: sipfrag %.40q is not a status line", line)
	}
	num, reason, _ := strings.Cut(rest, " ")
	code, err = strconv.Atoi(num)
	if err != nil || code < 100 || code > 699 {
		return 0, "", fmt.Errorf("sipua: sipfrag status %q", num)
	}
	return code, strings.TrimSpace(reason), nil
}

// refer sends a REFER to the peer at remote in dlg asking it to call target, and returns once
// the peer accepted (2xx) or refused it (a *CallError). progress gets every NOTIFY after that.
func (t *transfers) refer(ctx context.Context, dlg inDialog, remote sip.Uri, from sip.Uri, target sip.Uri,
	progress func(TransferProgress)) (Response, error) {
	t.setProgress(progress)
	req := sip.NewRequest(sip.REFER, remote)
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+target.String()+">"))
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+from.String()+">"))
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.setProgress(nil)
		return Response{}, &CallError{Err: fmt.Errorf("refer: %w", err)}
	}
	if !res.IsSuccess() {
		t.setProgress(nil)
		return Response{}, &CallError{Code: res.StatusCode, Reason: res.Reason, Raw: res.String()}
	}
	return responseOf(res), nil
}

// readNotify answers a NOTIFY of the call's transfer and hands its progress on.
func (a *Agent) readNotify(t *transfers, req *sip.Request, tx sip.ServerTransaction) error {
	ev := req.GetHeader("Event")
	if ev == nil || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ev.Value())), "refer") {
		a.respond(tx, req, 489, "Bad Event")
		return fmt.Errorf("sipua: NOTIFY of event %v", ev)
	}
	code, reason, err := ParseSipfrag(req.Body())
	if err != nil {
		a.respond(tx, req, sip.StatusBadRequest, "Bad Request")
		return err
	}
	a.respond(tx, req, sip.StatusOK, "OK")
	final := code >= 200
	if st := req.GetHeader("Subscription-State"); st != nil && strings.HasPrefix(strings.ToLower(st.Value()), "terminated") {
		final = true
	}
	t.mu.Lock()
	progress := t.progress
	if final {
		t.progress = nil
	}
	t.mu.Unlock()
	if progress != nil {
		progress(TransferProgress{Code: code, Reason: reason, Final: final, Raw: req.String()})
	}
	return nil
}

// Refer asks the callee to call target (a blind transfer); see transfers.refer.
func (o *Outgoing) Refer(ctx context.Context, target sip.Uri, progress func(TransferProgress)) (Response, error) {
	return o.transfers.refer(ctx, o.dlg, o.remoteTarget(), o.dlg.InviteRequest.From().Address, target, progress)
}

// Refer asks the caller to call target (a blind transfer); see transfers.refer.
func (i *Incoming) Refer(ctx context.Context, target sip.Uri, progress func(TransferProgress)) (Response, error) {
	return i.transfers.refer(ctx, i.dlg, i.remoteTarget(), i.req.To().Address, target, progress)
}

func (o *Outgoing) readNotify(req *sip.Request, tx sip.ServerTransaction) error {
	return o.a.readNotify(&o.transfers, req, tx)
}

func (i *Incoming) readNotify(req *sip.Request, tx sip.ServerTransaction) error {
	return i.a.readNotify(&i.transfers, req, tx)
}
