package sipua

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// Account is a session's SIP account, from its connection's sip* fields (docs/protocol.md §B.1).
type Account struct {
	Login         string // sipLogin: the user part of From and Contact
	AuthName      string // sipAuthenticationName ("" = Login)
	Password      string // sipPassword
	Domain        string // sipDomain: the registrar's and the From's domain
	OutboundProxy string // sipOutboundProxy: where requests are sent ("" = Domain)
	Port          int    // sipPort: of the proxy or the domain (0 = 5060)
	ContactParams string // sipContactParams: extra Contact URI parameters ("a=b;c")
	VisibleName   string // sipVisibleName: the From display name
}

// Valid says what the account lacks to register or call.
func (acc Account) Valid() error {
	switch {
	case acc.Login == "":
		return fmt.Errorf("sipua: no sipLogin")
	case acc.Domain == "":
		return fmt.Errorf("sipua: no sipDomain")
	case strings.ContainsAny(acc.Login, " <>\"@;:") || strings.ContainsAny(acc.Domain, " <>\"@;"):
		return fmt.Errorf("sipua: sipLogin or sipDomain is not a SIP user/host")
	}
	return nil
}

func (acc Account) authName() string {
	if acc.AuthName != "" {
		return acc.AuthName
	}
	return acc.Login
}

// next is where requests go: the outbound proxy, else the domain, at Port.
func (acc Account) next() string {
	host := acc.OutboundProxy
	if host == "" {
		host = acc.Domain
	}
	port := acc.Port
	if port == 0 {
		if _, p, err := net.SplitHostPort(host); err == nil {
			return net.JoinHostPort(hostOnly(host), p)
		}
		port = 5060
	}
	return net.JoinHostPort(hostOnly(host), strconv.Itoa(port))
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// domainPort is the port a request URI at the domain carries: sipPort when there is no outbound
// proxy (then the port is the domain's), the port written in sipDomain, else none.
func (acc Account) domainPort() int {
	if _, p, err := net.SplitHostPort(acc.Domain); err == nil {
		n, _ := strconv.Atoi(p)
		return n
	}
	if acc.OutboundProxy == "" {
		return acc.Port
	}
	return 0
}

// aor is the account's address of record: sip:login@domain.
func (acc Account) aor() sip.Uri {
	return sip.Uri{Scheme: "sip", User: acc.Login, Host: hostOnly(acc.Domain)}
}

// Target makes a callee (a number, a user, a sip: or tel: URI) a request URI at the account's
// domain.
func (acc Account) Target(callee string) (sip.Uri, error) {
	callee = strings.TrimSpace(callee)
	if callee == "" {
		return sip.Uri{}, fmt.Errorf("sipua: no callee")
	}
	if strings.HasPrefix(callee, "sip:") || strings.HasPrefix(callee, "sips:") {
		var u sip.Uri
		if err := sip.ParseUri(callee, &u); err != nil {
			return sip.Uri{}, fmt.Errorf("sipua: callee %q: %w", callee, err)
		}
		if u.Host == "" || strings.ContainsAny(u.Host, " <>\"") {
			return sip.Uri{}, fmt.Errorf("sipua: callee %q has no host", callee)
		}
		return u, nil
	}
	callee = strings.TrimPrefix(callee, "tel:")
	user, host, hasHost := strings.Cut(callee, "@")
	port := 0
	if !hasHost {
		host, port = hostOnly(acc.Domain), acc.domainPort()
	}
	if user == "" || host == "" || strings.ContainsAny(user, " <>\";:") || strings.ContainsAny(host, " <>\";@") {
		return sip.Uri{}, fmt.Errorf("sipua: callee %q is not a SIP user", callee)
	}
	return sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}, nil
}

func splitParams(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }

// slogger hands sipgo's slog records to zerolog at debug level (sipgo logs every transaction
// hiccup at Error, which is the peer's doing, not ours), warnings and errors included.
// slogger adapts sipgo's logs to zerolog, at debug: sipgo is chatty. Its parse failures (a TCP
// stream it gave up on) go to onMalformed instead, which an operator sees at info.
func slogger(l zerolog.Logger, onMalformed func(transport, reason string)) *slog.Logger {
	return slog.New(zerologHandler{l: l.With().Str("component", "sipgo").Logger(), onMalformed: onMalformed})
}

type zerologHandler struct {
	l           zerolog.Logger
	attrs       []slog.Attr
	onMalformed func(transport, reason string)
}

// sipgoParseFailure is the message of sipgo's log record for a message it could not parse.
const sipgoParseFailure = "failed to parse"

func (h zerologHandler) Enabled(_ context.Context, lvl slog.Level) bool {
	// The process-wide level counts too: it is what the REST API changes at run time. Errors are
	// always looked at: a parse failure among them is reported whatever the level.
	return lvl >= slog.LevelError || max(h.l.GetLevel(), zerolog.GlobalLevel()) <= zerolog.DebugLevel
}

func (h zerologHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == sipgoParseFailure && h.onMalformed != nil {
		reason := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				reason = a.Value.String()
			}
			return true
		})
		h.onMalformed("tcp", reason) // UDP datagrams are checked before sipgo sees them (malformed.go)
		return nil
	}
	ev := h.l.Debug()
	for _, a := range h.attrs {
		ev = ev.Str(a.Key, a.Value.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		ev = ev.Str(a.Key, a.Value.String())
		return true
	})
	ev.Str("level_sipgo", r.Level.String()).Msg(r.Message)
	return nil
}

func (h zerologHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return zerologHandler{l: h.l, attrs: append(append([]slog.Attr{}, h.attrs...), as...), onMalformed: h.onMalformed}
}

func (h zerologHandler) WithGroup(string) slog.Handler { return h }
