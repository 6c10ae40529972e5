package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/potok-media/potok/api/wcs"
)

// TestLabels: label values come from closed sets; anything else is "other".
func TestLabels(t *testing.T) {
	frame := func(msg string) []byte {
		b, err := wcs.Encode(msg, map[string]any{"x": 1})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		got, want string
	}{
		{SentLabel(frame(wcs.MsgGetUserData)), wcs.MsgGetUserData},
		{SentLabel(frame(wcs.MsgNotifyStreamStatusEvent)), wcs.MsgNotifyStreamStatusEvent},
		{SentLabel([]byte(`{"message":"ping","data":[]}`)), wcs.MsgPing},
		{SentLabel(frame("my-stream-name")), "other"},
		{SentLabel([]byte(`garbage`)), "other"},
		{SentLabel([]byte(`{"message":"`)), "other"},
		{MessageLabel(wcs.MsgPublishStream), wcs.MsgPublishStream},
		{MessageLabel("session-3f2a"), "other"},
		{StatusLabel(wcs.StatusFailed), wcs.StatusFailed},
		{StatusLabel("192.0.2.1"), "other"},
	} {
		if c.got != c.want {
			t.Errorf("label %q, want %q", c.got, c.want)
		}
	}
	f := frame(wcs.MsgOutboundVideoRate)
	if n := testing.AllocsPerRun(100, func() { _ = SentLabel(f) }); n != 0 {
		t.Errorf("SentLabel allocates %v times per frame", n)
	}
}

// TestCallStatus: a SIP call is in progress from its first status past PENDING to its end, its
// setup observed once (not again after a hold), each status counted; a call refused before it
// started never counts as in progress, and one gone with its session leaves the gauge.
func TestCallStatus(t *testing.T) {
	m, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	inProgress := func(d string) float64 { return value(t, m.SIPCalls.WithLabelValues(d)) }
	start := time.Now()
	for _, step := range [][2]string{{wcs.CallPending, wcs.CallTrying}, {wcs.CallTrying, wcs.CallRing},
		{wcs.CallRing, wcs.CallEstablished}, {wcs.CallEstablished, wcs.CallHold}, {wcs.CallHold, wcs.CallEstablished}} {
		m.CallStatus(false, step[0], step[1], start)
	}
	if n := inProgress(DirectionOut); n != 1 {
		t.Errorf("%v outgoing calls in progress, want 1", n)
	}
	if n := setups(t, m); n != 1 {
		t.Errorf("%d setups observed, want 1 (a resume is not a setup)", n)
	}
	m.CallStatus(false, wcs.CallEstablished, wcs.CallFinish, start)
	m.CallStatus(true, wcs.CallPending, wcs.CallFailed, start) // refused before it rang
	m.CallStatus(true, wcs.CallPending, wcs.CallRing, start)
	m.CallGone(true, wcs.CallRing)
	m.CallGone(true, wcs.CallPending)
	for _, d := range []string{DirectionIn, DirectionOut} {
		if n := inProgress(d); n != 0 {
			t.Errorf("%v %s calls in progress at the end, want 0", n, d)
		}
	}
	if n := value(t, m.SIPCallStatuses.WithLabelValues(DirectionOut, wcs.CallEstablished)); n != 2 {
		t.Errorf("statuses{out,ESTABLISHED} = %v, want 2", n)
	}
	if got := callStatusLabel("486 Busy Here from sip:alice@192.0.2.1"); got != "other" {
		t.Errorf("status label %q", got)
	}
	m.Registration(true)
	m.Registration(false)
	if a, b := value(t, m.SIPRegistrations.WithLabelValues(RegistrationOK)), value(t, m.SIPRegistrations.WithLabelValues(RegistrationFailed)); a != 1 || b != 1 {
		t.Errorf("registrations %v ok, %v failed", a, b)
	}
}

func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetGauge().GetValue() + d.GetCounter().GetValue()
}

func setups(t *testing.T, m *Signal) uint64 {
	t.Helper()
	var d dto.Metric
	if err := m.SIPCallSetup.WithLabelValues(DirectionOut).(prometheus.Histogram).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}
