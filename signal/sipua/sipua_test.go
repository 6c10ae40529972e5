package sipua

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potok-media/potok/internal/logging"
	"github.com/potok-media/potok/mediad/sipleg"
	"github.com/potok-media/potok/testkit/sipfix"
	"github.com/potok-media/potok/testkit/testwait"
)

func startAgent(t *testing.T, mod func(*Config)) *Agent {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", RequestTimeout: 2 * time.Second, Logger: logging.Test()}
	if mod != nil {
		mod(&cfg)
	}
	a, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func alice(reg *sipfix.Registrar, password string) Account {
	return Account{Login: "alice", Password: password, Domain: "127.0.0.1", Port: reg.Port}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// testSDP is an RTP leg's SDP on a port nobody reads.
func testSDP() []byte {
	return []byte(sipleg.Build(net.IPv4(127, 0, 0, 1), 40000, []sipleg.Codec{
		{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000}},
		"sendrecv", 1, 1))
}

// Registration against kamailio with digest authentication (docs/protocol.md §E.1): the right
// password registers, a wrong one is AUTHENTICATION_FAIL, a registrar that does not answer is a
// FAILED timeout within the request timeout, never a hang.
func TestRegister(t *testing.T) {
	reg := sipfix.Kamailio(t, true)
	a := startAgent(t, nil)
	r, err := a.Register(ctxT(t, 10*time.Second), alice(reg, "alicepw"), nil, nil)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, reg.Tail())
	}
	r.Close()

	_, err = a.Register(ctxT(t, 10*time.Second), alice(reg, "wrong"), nil, nil)
	var re *RegisterError
	if !errors.As(err, &re) || re.Event.Status != Authentication {
		t.Fatalf("wrong password: %v, want %s", err, Authentication)
	}

	dead := alice(reg, "alicepw")
	dead.Port = sipfix.FreePort(t)
	began := time.Now()
	_, err = a.Register(ctxT(t, 10*time.Second), dead, nil, nil)
	if !errors.As(err, &re) || re.Event.Status != Failed {
		t.Fatalf("silent registrar: %v, want %s", err, Failed)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("a silent registrar took %v to fail, want about the request timeout", took)
	}
	if _, err := a.Register(ctxT(t, time.Second), Account{Login: "x y", Domain: "127.0.0.1"}, nil, nil); err == nil {
		t.Error("a login with a space registered")
	}
}

// An outgoing call through kamailio to a sipp phone (docs/protocol.md §E.9): the provisional
// responses are reported, the 200's SDP is the phone's, our BYE ends the phone's scenario; a
// phone that answers 486 is a CallError with that status.
func TestDial(t *testing.T) {
	reg := sipfix.Kamailio(t, true)
	a := startAgent(t, nil)
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas"})
	var mu sync.Mutex
	var codes []int
	o, err := a.Dial(ctxT(t, 20*time.Second), alice(reg, "alicepw"), "sip:uas@"+phone.Addr(), testSDP(), func(r Response) {
		mu.Lock()
		codes = append(codes, r.Code)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("dial: %v\n%s\n%s", err, phone.Messages(), reg.Tail())
	}
	mu.Lock()
	got := codes
	mu.Unlock()
	if !containsInt(got, 180) {
		t.Errorf("provisional responses %v, want 180 among them", got)
	}
	if !strings.Contains(string(o.Answer().SDP), "PCMU/8000") {
		t.Errorf("the answer's SDP:\n%s", o.Answer().SDP)
	}
	o.Hangup()
	if err := phone.Wait(10 * time.Second); err != nil {
		t.Fatalf("the phone's scenario: %v", err)
	}
	select {
	case <-o.Done():
	default:
		t.Error("the call is not done after its BYE")
	}

	busy := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas_busy"})
	_, err = a.Dial(ctxT(t, 20*time.Second), alice(reg, "alicepw"), "sip:uas@"+busy.Addr(), testSDP(), nil)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != 486 {
		t.Fatalf("busy phone: %v, want a 486 CallError\n%s", err, busy.Messages())
	}
	_, err = a.Dial(ctxT(t, 20*time.Second), alice(reg, "alicepw"), "nobody", testSDP(), nil)
	if !errors.As(err, &ce) || ce.Code != 404 {
		t.Fatalf("unknown callee: %v, want a 404 CallError", err)
	}
}

// An incoming call (docs/protocol.md §E.10): a sipp phone calls alice through kamailio; the
// registration's handler rings and answers; the phone's BYE ends the call.
func TestIncoming(t *testing.T) {
	reg := sipfix.Kamailio(t, true)
	a := startAgent(t, nil)
	calls := make(chan *Incoming, 1)
	r, err := a.Register(ctxT(t, 10*time.Second), alice(reg, "alicepw"), func(i *Incoming) { calls <- i }, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uac", Remote: reg.Addr, Service: "alice",
		Duration: 500 * time.Millisecond})
	var in *Incoming
	select {
	case in = <-calls:
	case <-time.After(15 * time.Second):
		t.Fatalf("no incoming call\n%s\n%s", phone.Messages(), reg.Tail())
	}
	if user, _ := in.Caller(); user != "phone" || in.Callee() != "alice" || !strings.Contains(string(in.Offer()), "PCMA/8000") {
		t.Errorf("incoming call from %q to %q with offer\n%s", user, in.Callee(), in.Offer())
	}
	if err := in.Ring(); err != nil {
		t.Fatal(err)
	}
	// kamailio's UDP workers may swap two responses sent back to back, and sipp refuses a 180
	// after the 200: let the 180 through first, as a person answering would.
	time.Sleep(200 * time.Millisecond)
	if err := in.Answer(testSDP()); err != nil {
		t.Fatal(err)
	}
	if err := phone.Wait(15 * time.Second); err != nil {
		t.Fatalf("the phone's scenario: %v", err)
	}
	testwait.Until(t, 5*time.Second, "the call ended by the phone's BYE", func() bool {
		select {
		case <-in.Done():
			return true
		default:
			return false
		}
	})
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// FuzzTarget: no callee a page sends panics the request URI builder, and what it accepts is a
// SIP URI with a user.
func FuzzTarget(f *testing.F) {
	for _, s := range []string{"1001", "bob@example.com", "sip:bob@10.0.0.1:5070;transport=tcp", "tel:+123", "", "a b", "sip:"} {
		f.Add(s)
	}
	acc := Account{Login: "alice", Domain: "example.com", Port: 5062}
	f.Fuzz(func(t *testing.T, callee string) {
		u, err := acc.Target(callee)
		if err != nil {
			return
		}
		if u.Host == "" {
			t.Fatalf("accepted %q as %+v", callee, u)
		}
	})
}

// A NOTIFY's sipfrag is the status line of the transfer target's response; anything else is an
// error, never a panic, and an accepted status is a real one.
func TestParseSipfrag(t *testing.T) {
	for body, want := range map[string]int{"SIP/2.0 100 Trying\r\n": 100, "SIP/2.0 200 OK": 200,
		"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n": 486, "": 0, "HTTP/1.1 200 OK": 0, "SIP/2.0 99 Low": 0,
		"SIP/2.0 abc": 0} {
		code, _, err := ParseSipfrag([]byte(body))
		if code != want || (err == nil) != (want != 0) {
			t.Errorf("ParseSipfrag(%q) = %d, %v; want %d", body, code, err, want)
		}
	}
}

func FuzzParseSipfrag(f *testing.F) {
	for _, s := range []string{"SIP/2.0 100 Trying\r\n", "SIP/2.0 603 Decline", "SIP/2.0", "garbage"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, _, err := ParseSipfrag(body)
		if err == nil && (code < 100 || code > 699) {
			t.Fatalf("accepted status %d from %q", code, body)
		}
	})
}

func TestParseDTMFInfo(t *testing.T) {
	for _, c := range []struct {
		ct, body, want string
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", "5"},
		{"Application/DTMF-Relay", "Duration=100\r\nsignal = #\r\n", "#"},
		{"application/dtmf", "a", "A"},
		{"application/dtmf-relay", "Signal=55", ""},
		{"application/dtmf-relay", "Duration=160", ""},
		{"text/plain", "Signal=5", ""},
	} {
		got, err := ParseDTMFInfo(c.ct, []byte(c.body))
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseDTMFInfo(%q, %q) = %q, %v; want %q", c.ct, c.body, got, err, c.want)
		}
	}
}

func FuzzParseDTMFInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		symbol, err := ParseDTMFInfo(ct, body)
		if err == nil && (len(symbol) != 1 || !strings.Contains("0123456789*#ABCD", symbol)) {
			t.Fatalf("accepted symbol %q", symbol)
		}
	})
}
