package sipua

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// DTMF the peer sends in SIP INFO (docs/protocol.md §E.13): answered 200 and handed to the call's
// DTMF handler (the page is not told: the WebSDK has no message for it). An INFO of another kind
// is 415; one with an unreadable symbol 400.

// MaxInfoSize bounds the body of an INFO read.
const MaxInfoSize = 4 << 10

// ParseDTMFInfo reads the symbol of an INFO body: application/dtmf-relay ("Signal=5\r\n
// Duration=160") or application/dtmf (the symbol alone). The symbol is one of 0-9 * # A-D.
func ParseDTMFInfo(contentType string, body []byte) (string, error) {
	if len(body) > MaxInfoSize {
		return "", fmt.Errorf("sipua: INFO body of %d bytes, more than %d", len(body), MaxInfoSize)
	}
	var symbol string
	switch strings.ToLower(strings.TrimSpace(contentType)) {
	case "application/dtmf-relay":
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				symbol = strings.TrimSpace(v)
				break
			}
		}
	case "application/dtmf":
		symbol = strings.TrimSpace(string(body))
	default:
		return "", fmt.Errorf("sipua: INFO of %q is not DTMF", contentType)
	}
	symbol = strings.ToUpper(symbol)
	if len(symbol) != 1 || !strings.Contains("0123456789*#ABCD", symbol) {
		return "", fmt.Errorf("sipua: DTMF symbol %.10q", symbol)
	}
	return symbol, nil
}

// infos is a call's side of the peer's INFOs: where its DTMF goes.
type infos struct {
	mu   sync.Mutex
	dtmf func(symbol string)
}

// OnDTMF sets what gets the DTMF the peer sends in INFO.
func (n *infos) OnDTMF(f func(symbol string)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dtmf = f
}

func (a *Agent) readInfo(n *infos, req *sip.Request, tx sip.ServerTransaction) error {
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if ct == "" && len(req.Body()) == 0 {
		a.respond(tx, req, sip.StatusOK, "OK") // an empty INFO: a keep-alive
		return nil
	}
	symbol, err := ParseDTMFInfo(ct, req.Body())
	if err != nil {
		code, reason := sip.StatusBadRequest, "Bad Request"
		if !strings.Contains(strings.ToLower(ct), "dtmf") {
			code, reason = sip.StatusUnsupportedMediaType, "Unsupported Media Type"
		}
		a.respond(tx, req, code, reason)
		return err
	}
	a.respond(tx, req, sip.StatusOK, "OK")
	n.mu.Lock()
	f := n.dtmf
	n.mu.Unlock()
	if f != nil {
		f(symbol)
	}
	return nil
}

func (o *Outgoing) readInfo(req *sip.Request, tx sip.ServerTransaction) error {
	return o.a.readInfo(&o.infos, req, tx)
}

func (i *Incoming) readInfo(req *sip.Request, tx sip.ServerTransaction) error {
	return i.a.readInfo(&i.infos, req, tx)
}
