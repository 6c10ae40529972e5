package sipua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// DefaultExpires is the registration period asked for.
const DefaultExpires = 3600 * time.Second

// RegistrationEvent is a change of a registration (docs/protocol.md §D.7): REGISTERED,
// UNREGISTERED, FAILED or AUTHENTICATION_FAIL, with the SIP status and reason that caused it.
type RegistrationEvent struct {
	Status string
	Code   int    // the SIP status, 0 when no response came
	Info   string // the reason phrase, or why no response came
	Raw    string // the response as received (sipMessageRaw)
}

// Registration statuses.
const (
	Registered     = "REGISTERED"
	Unregistered   = "UNREGISTERED"
	Failed         = "FAILED"
	Authentication = "AUTHENTICATION_FAIL"
)

// IncomingHandler receives the INVITEs to a registered login. It runs on the request's own
// goroutine and returns once the call has its final answer (see Incoming).
type IncomingHandler func(*Incoming)

// Registration keeps an account registered: refreshed before it expires, removed by Close.
type Registration struct {
	a        *Agent
	acc      Account
	contact  sip.ContactHeader
	callID   string
	incoming IncomingHandler
	events   func(RegistrationEvent)
	msgs     messages // message.go

	mu    sync.Mutex
	cseq  uint32
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	alive bool // REGISTERED now
}

// Register registers acc and keeps it registered until Close; events reports every change
// (from the refresher's goroutine; it must not block for long) and incoming receives the calls
// to acc's login. The first REGISTER is answered before Register returns: its error says why it
// failed (a *RegisterError with the status), and no refresher is left running then.
func (a *Agent) Register(ctx context.Context, acc Account, incoming IncomingHandler, events func(RegistrationEvent)) (*Registration, error) {
	if err := acc.Valid(); err != nil {
		return nil, err
	}
	r := &Registration{a: a, acc: acc, contact: a.contact(acc.Login, acc.ContactParams), callID: sip.GenerateTagN(24),
		incoming: incoming, events: events, stop: make(chan struct{}), done: make(chan struct{})}
	expires, ev, err := r.register(ctx, DefaultExpires)
	if err != nil {
		return nil, &RegisterError{Event: ev, Err: err}
	}
	if !a.addRegistration(r) {
		r.unregister()
		return nil, &RegisterError{Event: RegistrationEvent{Status: Failed, Info: "sip agent closed"}, Err: errClosed}
	}
	r.alive = true
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		r.refresh(expires)
	}()
	return r, nil
}

var errClosed = errors.New("sipua: agent closed")

// RegisterError is a REGISTER that did not succeed.
type RegisterError struct {
	Event RegistrationEvent
	Err   error
}

func (e *RegisterError) Error() string { return fmt.Sprintf("sipua: register: %v", e.Err) }
func (e *RegisterError) Unwrap() error { return e.Err }

func (a *Agent) addRegistration(r *Registration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.regs[r.acc.Login] = r // a later session with the same login takes its calls
	return true
}

func (a *Agent) removeRegistration(r *Registration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.regs[r.acc.Login] == r {
		delete(a.regs, r.acc.Login)
	}
}

func (a *Agent) registration(login string) *Registration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.regs[login]
}

// register sends one REGISTER asking for expires (0 = unregister), answering a digest challenge,
// and returns the period the registrar granted.
func (r *Registration) register(ctx context.Context, expires time.Duration) (time.Duration, RegistrationEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, r.a.cfg.RequestTimeout)
	defer cancel()
	req := r.request(expires)
	res, err := r.a.cli.Do(ctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		res, err = r.a.cli.DoDigestAuth(ctx, req, res, sipgoDigest(r.acc))
	}
	if err != nil {
		info := "Failed by request timeout"
		if !errors.Is(err, context.DeadlineExceeded) {
			info = err.Error()
		}
		return 0, RegistrationEvent{Status: Failed, Info: info}, err
	}
	ev := RegistrationEvent{Code: res.StatusCode, Info: res.Reason, Raw: res.String()}
	switch {
	case res.IsSuccess():
		ev.Status = Registered
		if expires == 0 {
			ev.Status = Unregistered
		}
		return granted(res, expires), ev, nil
	case res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired || res.StatusCode == sip.StatusForbidden:
		ev.Status = Authentication
	default:
		ev.Status = Failed
	}
	return 0, ev, fmt.Errorf("%d %s", res.StatusCode, res.Reason)
}

func (r *Registration) request(expires time.Duration) *sip.Request {
	aor := r.acc.aor()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: aor.Host, Port: r.acc.domainPort()})
	req.SetDestination(r.acc.next())
	from := sip.FromHeader{DisplayName: r.acc.VisibleName, Address: aor}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: aor}
	callID := sip.CallIDHeader(r.callID)
	r.mu.Lock()
	r.cseq++
	cseq := sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER}
	r.mu.Unlock()
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	contact := r.contact
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&cseq)
	req.AppendHeader(&contact)
	req.AppendHeader(&exp)
	return req
}

// granted is the registration period of a 200: the Contact's expires, else Expires, else asked.
func granted(res *sip.Response, asked time.Duration) time.Duration {
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// refresh re-registers at 80% of each period until Close; a refresh that fails is retried every
// few seconds, and reported.
func (r *Registration) refresh(period time.Duration) {
	defer close(r.done)
	for {
		wait := period * 8 / 10
		if wait < time.Second {
			wait = time.Second
		}
		select {
		case <-r.stop:
			return
		case <-r.a.ctx.Done():
			return
		case <-time.After(wait):
		}
		p, ev, err := r.register(r.a.ctx, DefaultExpires)
		r.mu.Lock()
		changed := (err == nil) != r.alive
		r.alive = err == nil
		r.mu.Unlock()
		if changed && r.events != nil {
			r.events(ev)
		}
		if err != nil {
			r.a.log.Warn().Err(err).Str("sipLogin", r.acc.Login).Msg("sip registration refresh failed")
			period = 5 * time.Second
			continue
		}
		period = p
	}
}

// Close stops refreshing and unregisters (best effort, bounded by the request timeout).
func (r *Registration) Close() {
	r.once.Do(func() {
		close(r.stop)
		<-r.done
		r.a.removeRegistration(r)
		r.unregister()
	})
}

func (r *Registration) unregister() {
	if _, _, err := r.register(context.Background(), 0); err != nil {
		r.a.log.Debug().Err(err).Str("sipLogin", r.acc.Login).Msg("sip unregister")
	}
}

// Account is the registration's account.
func (r *Registration) Account() Account { return r.acc }
