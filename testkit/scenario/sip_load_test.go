package scenario

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/testkit/sipfix"
	"github.com/potok-media/potok/testkit/testpeer"
	"github.com/potok-media/potok/testkit/testwait"
)

// TestSIPLoad: 50 calls at once through one signal process and one media daemon (issue 11:
// "sipp load: 50 concurrent bridged calls for 60 s"). One page places them all to a sipp phone
// that echoes RTP; each call's browser side sends 50 packets a second and must get its echo back
// in every 10 s of the run, no call may end, and sipp must count every call successful after
// the page hangs up. The processes' CPU over the steady part is reported per call.
// POTOK_SIP_LOAD=calls,seconds changes the size (default 50,60).
func TestSIPLoad(t *testing.T) {
	t.Parallel()
	calls, seconds := 50, 60
	if v := os.Getenv("POTOK_SIP_LOAD"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d", &calls, &seconds); err != nil || calls < 1 || seconds < 10 {
			t.Fatalf("POTOK_SIP_LOAD=%q: want calls,seconds (seconds at least 10)", v)
		}
	}
	reg := sipfix.Kamailio(t, true)
	bin := potokBinary(t)
	natsURL := startNATSServer(t)
	md := startProcess(t, bin, "mediad", "--nats", natsURL, "--media-ip", "127.0.0.1", "--media-udp-port", "0",
		"--media-tcp-port", "0", "--media-loopback-only", "--mediad-http-listen", "127.0.0.1:0", "--log-level", "info")
	sig := startProcess(t, bin, "signal", "--nats", natsURL, "--ws-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--sip-listen", "127.0.0.1:"+strconv.Itoa(sipfix.FreePort(t)), "--log-level", "info")
	wsURL := "ws://" + sig.waitAddr(t, "websocket listening")
	metricsURL := "http://" + md.waitAddr(t, "metrics listening") + "/metrics"
	waitPublishable(t, wsURL, func() int { return int(scrapeGauge(t, metricsURL, "potok_mediad_peer_connections")) })

	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas", RTPEcho: true, Calls: calls, Limit: calls,
		Timeout: time.Duration(seconds)*time.Second + 90*time.Second})
	page := dialPhone(t, wsURL, sipFields(reg, "alice", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)

	legs := make([]*loadLeg, calls)
	for i := range legs {
		legs[i] = placeLoadCall(t, page, "sip:uas@"+phone.Addr())
	}
	for _, l := range legs {
		l.answer(t, page)
	}
	for _, l := range legs {
		go l.send(page)
	}
	for _, l := range legs {
		testwait.UntilOK(t, 15*time.Second, "every call's echo", func() error {
			if l.received.Load() == 0 {
				return fmt.Errorf("call %s: no echo yet", l.id)
			}
			return nil
		})
	}

	cpu0, start := processCPU(t, md)+processCPU(t, sig), time.Now()
	for step := 0; step < seconds/10; step++ {
		before := make([]int64, calls)
		for i, l := range legs {
			before[i] = l.received.Load()
		}
		time.Sleep(10 * time.Second)
		for i, l := range legs {
			if n := l.received.Load() - before[i]; n < 250 { // of 500 sent in the 10 s
				t.Errorf("call %d: %d packets echoed in 10 s, want about 500", i, n)
			}
		}
		if f := page.count(wcs.MsgFinish); f != 0 {
			t.Fatalf("%d calls ended during the run: %s", f, page.summary())
		}
	}
	cpu, elapsed := processCPU(t, md)+processCPU(t, sig)-cpu0, time.Since(start)
	perCall := cpu.Seconds() / elapsed.Seconds() / float64(calls) * 100
	t.Logf("%d bridged calls for %.0f s: signal+mediad CPU %.2f s, %.3f %% of a core per call (%.1f µs per bridged packet, 50 a second each way per call)",
		calls, elapsed.Seconds(), cpu.Seconds(), perCall, cpu.Seconds()*1e6/(elapsed.Seconds()*float64(calls)*100))

	for _, l := range legs {
		page.send(wcs.MsgHangup, map[string]any{"callId": l.id})
	}
	testwait.UntilOK(t, 30*time.Second, "every call finished", func() error {
		if n := page.count(wcs.MsgFinish); n < calls {
			return fmt.Errorf("%d of %d finished", n, calls)
		}
		return nil
	})
	if err := phone.Wait(30 * time.Second); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	if s := page.summary(); strings.Contains(s, "FAILED") || strings.Contains(s, "fail ") {
		t.Errorf("a call failed: %s", s)
	}
	for _, l := range legs {
		_ = l.pc.Close()
	}
	testwait.Until(t, 20*time.Second, "every call's media gone", func() bool {
		return scrapeGauge(t, metricsURL, "potok_mediad_peer_connections") == 0
	})
}

// loadLeg is one call's browser side in TestSIPLoad.
type loadLeg struct {
	id       string
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	received atomic.Int64
}

func placeLoadCall(t *testing.T, page *callPhone, callee string) *loadLeg {
	t.Helper()
	pc, err := testpeer.API(t, testpeer.Options{}).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	l := &loadLeg{id: uuid.NewString(), pc: pc}
	if l.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", l.id); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(l.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := remote.ReadRTP(); err != nil {
				return
			}
			l.received.Add(1)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	page.send(wcs.MsgCall, map[string]any{"callId": l.id, "callee": callee, "hasAudio": true, "sdp": pc.LocalDescription().SDP})
	return l
}

// answer applies the call's answer (setRemoteSDP [callId, sdp, …]) and waits for its talk.
func (l *loadLeg) answer(t *testing.T, page *callPhone) {
	t.Helper()
	env := page.waitCall(l.id, wcs.MsgSetRemoteSDP, 30*time.Second)
	var sdp string
	if err := env.Arg(1, &sdp); err != nil {
		t.Fatal(err)
	}
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
	page.waitCall(l.id, wcs.MsgTalk, 30*time.Second)
}

// send writes 20 ms of μ-law silence every 20 ms until the page closes.
func (l *loadLeg) send(page *callPhone) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 160)
	for j := range payload {
		payload[j] = 0xff
	}
	for i := 0; ; i++ {
		select {
		case <-page.ctx.Done():
			return
		case <-tick.C:
			if l.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(160 * i)},
				Payload: payload}) != nil {
				return
			}
		}
	}
}

// processCPU is the CPU time (user and system) a process has used so far, from /proc.
func processCPU(t *testing.T, p *process) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	// The fields after the command (which may hold spaces) start after its closing parenthesis.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // clock ticks, USER_HZ = 100 on Linux
}
