package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/sipfix"
	"github.com/potok-media/potok/testkit/testpeer"
	"github.com/potok-media/potok/testkit/testwait"
)

// SIP calls through a real registrar (kamailio with digest auth) to and from real phones (sipp),
// bridged by a media daemon (docs/protocol.md §E.1, §E.9, §E.10). The browser side is callPhone,
// a WCS client speaking the call messages as the WebSDK does, with a pion peer connection.

// callPhone is a browser's side of SIP calls: one WCS session and, per call, a peer connection
// with an audio track of its codec.
type callPhone struct {
	t    *testing.T
	ws   *websocket.Conn
	ctx  context.Context
	stop context.CancelFunc

	mu   sync.Mutex
	msgs []wcs.Envelope
	cond chan struct{} // closed and replaced on every message

	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	received atomic.Int64
	sending  sync.WaitGroup
}

func dialPhone(t *testing.T, url string, fields map[string]any) *callPhone {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	p := &callPhone{t: t, ws: ws, ctx: ctx, stop: cancel, cond: make(chan struct{})}
	go p.read()
	t.Cleanup(p.close)
	conn := map[string]any{"appKey": "defaultApp", "mediaProviders": []string{"WebRTC"}, "clientVersion": "2.0"}
	for k, v := range fields {
		conn[k] = v
	}
	p.send(wcs.MsgConnection, conn)
	p.wait(wcs.MsgGetUserData, "", 10*time.Second)
	return p
}

func (p *callPhone) read() {
	for {
		_, b, err := p.ws.Read(p.ctx)
		if err != nil {
			return
		}
		var env wcs.Envelope
		if json.Unmarshal(b, &env) != nil {
			continue
		}
		if env.Message == wcs.MsgPing {
			p.send(wcs.MsgPong, nil)
			continue
		}
		p.mu.Lock()
		p.msgs = append(p.msgs, env)
		close(p.cond)
		p.cond = make(chan struct{})
		p.mu.Unlock()
	}
}

func (p *callPhone) send(msg string, arg any) {
	var data []any
	if arg != nil {
		data = []any{arg}
	}
	b, _ := json.Marshal(map[string]any{"message": msg, "data": data})
	if err := p.ws.Write(p.ctx, websocket.MessageText, b); err != nil && p.ctx.Err() == nil {
		p.t.Errorf("send %s: %v", msg, err)
	}
}

// wait returns the first message named msg (whose call status is status, when set) and fails the
// test after d.
func (p *callPhone) wait(msg, status string, d time.Duration) wcs.Envelope {
	p.t.Helper()
	return p.waitFrom(0, msg, status, d)
}

// mark is how many messages the page has; waitFrom(mark, …) waits for one that came after.
func (p *callPhone) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// waitCall returns the first message named msg about call id: setRemoteSDP's first argument is
// the callId, a call status message's the call object.
func (p *callPhone) waitCall(id, msg string, d time.Duration) wcs.Envelope {
	p.t.Helper()
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, env := range p.msgs {
			if env.Message != msg {
				continue
			}
			var callID string
			if env.Arg(0, &callID) != nil {
				var obj struct{ CallID string }
				_ = env.Arg(0, &obj)
				callID = obj.CallID
			}
			if callID == id {
				p.mu.Unlock()
				return env
			}
		}
		ch := p.cond
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			p.t.Fatalf("no %s of call %s within %v", msg, id, d)
		}
	}
}

// count is how many messages named msg the page got.
func (p *callPhone) count(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, env := range p.msgs {
		if env.Message == msg {
			n++
		}
	}
	return n
}

// waitFrom is wait among the messages from the from-th on.
func (p *callPhone) waitFrom(from int, msg, status string, d time.Duration) wcs.Envelope {
	p.t.Helper()
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, env := range p.msgs[from:] {
			if env.Message != msg {
				continue
			}
			var st struct{ Status string }
			_ = env.Arg(0, &st)
			if status == "" || st.Status == status {
				p.mu.Unlock()
				return env
			}
		}
		ch := p.cond
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			p.t.Fatalf("no %s %s within %v; got %s", msg, status, d, p.summary())
		}
	}
}

func (p *callPhone) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, env := range p.msgs {
		s := env.Message
		var obj map[string]any
		if env.Arg(0, &obj) == nil {
			s += fmt.Sprintf(" %v %v", obj["status"], obj["info"])
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// newPeer makes the call's peer connection with one sendrecv audio track of mime.
func (p *callPhone) newPeer(mime string) {
	p.t.Helper()
	pc, err := testpeer.API(p.t, testpeer.Options{}).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.t.Fatal(err)
	}
	p.pc = pc
	if p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000}, "audio", "phone"); err != nil {
		p.t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		p.t.Fatal(err)
	}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := remote.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
		}
	})
}

func (p *callPhone) local(sdp webrtc.SessionDescription, err error) string {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
	g := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(sdp); err != nil {
		p.t.Fatal(err)
	}
	<-g
	return p.pc.LocalDescription().SDP
}

// sendAudio sends 20 ms of silence every 20 ms until the phone closes.
func (p *callPhone) sendAudio() {
	p.sending.Add(1)
	go func() {
		defer p.sending.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.ctx.Done():
				return
			case <-tick.C:
				payload := make([]byte, 160)
				for j := range payload {
					payload[j] = 0xff // μ-law silence
				}
				_ = p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(160 * i)},
					Payload: payload})
			}
		}
	}()
}

func (p *callPhone) close() {
	p.stop()
	p.sending.Wait()
	if p.pc != nil {
		_ = p.pc.Close()
	}
	_ = p.ws.Close(websocket.StatusNormalClosure, "")
}

func sipFields(reg *sipfix.Registrar, login string, register bool) map[string]any {
	return map[string]any{"sipLogin": login, "sipAuthenticationName": login, "sipPassword": sipfix.Accounts[login],
		"sipDomain": "127.0.0.1", "sipPort": strconv.Itoa(reg.Port), "sipRegisterRequired": register}
}

func callArg(env wcs.Envelope, t *testing.T) wcs.Call {
	t.Helper()
	var c wcs.Call
	if err := env.Arg(0, &c); err != nil {
		t.Fatalf("%s: %v", env.Message, err)
	}
	return c
}

// TestSIPCallOut: a page registers its SIP account, calls a phone that echoes its audio, and
// hangs up: TRYING, RING, the answer (PCMU, the phone's choice), ESTABLISHED; its audio comes
// back through the bridge; the phone gets the BYE. A busy phone is BUSY 486.
func TestSIPCallOut(t *testing.T) {
	t.Parallel()
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas", RTPEcho: true})
	page := dialPhone(t, c.WSURL, sipFields(reg, "alice", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)

	page.newPeer(webrtc.MimeTypePCMU)
	id := uuid.NewString()
	page.send(wcs.MsgCall, map[string]any{"callId": id, "incoming": false, "callee": "sip:uas@" + phone.Addr(),
		"caller": "alice", "visibleName": "Alice", "hasAudio": true, "hasVideo": false, "status": "PENDING",
		"mediaProvider": "WebRTC", "sdp": page.local(page.pc.CreateOffer(nil))})
	page.wait(wcs.MsgNotifyTryingResponse, wcs.CallTrying, 10*time.Second)
	page.wait(wcs.MsgRing, wcs.CallRing, 10*time.Second)
	var answer string
	if err := page.wait(wcs.MsgSetRemoteSDP, "", 10*time.Second).Arg(1, &answer); err != nil {
		t.Fatalf("setRemoteSDP: %v", err)
	}
	if !strings.Contains(answer, "PCMU/8000") || strings.Contains(answer, "opus") {
		t.Errorf("the page's answer is not the phone's PCMU only:\n%s", answer)
	}
	if err := page.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	talk := callArg(page.wait(wcs.MsgTalk, wcs.CallEstablished, 10*time.Second), t)
	if talk.CallID != id || talk.SIPStatus != 200 {
		t.Errorf("talk %+v", talk)
	}
	page.sendAudio()
	testwait.UntilOK(t, 10*time.Second, "the page's audio echoed back by the phone", func() error {
		if n := page.received.Load(); n < 25 {
			return fmt.Errorf("%d packets back", n)
		}
		return nil
	})
	// DTMF both ways of sending it (§E.13): in a SIP INFO, which the phone answers and logs, and
	// as RFC 4733 events from the bridge (the phone's answer has telephone-event). Neither is
	// answered on the WebSocket unless it fails.
	page.send(wcs.MsgSendDtmf, map[string]any{"callId": id, "type": "INFO", "dtmf": "5"})
	page.send(wcs.MsgSendDtmf, map[string]any{"callId": id, "type": "RFC2833", "dtmf": 7})
	testwait.Until(t, 5*time.Second, "the phone received the INFO", func() bool {
		return phone.Received("Signal=5")
	})
	// The page holds the call (§E.11): a re-INVITE sendonly to the phone, HOLD once it accepted,
	// no audio either way; the resume re-INVITEs sendrecv and the echo comes back.
	mark := page.mark()
	page.send(wcs.MsgHold, map[string]any{"callId": id})
	page.waitFrom(mark, wcs.MsgHold, wcs.CallHold, 10*time.Second)
	if !phone.Received("a=sendonly") {
		t.Errorf("the phone got no re-INVITE with a=sendonly:\n%s", phone.Messages())
	}
	assertSilent(t, page, "the page's hold")
	mark = page.mark()
	page.send(wcs.MsgUnhold, map[string]any{"callId": id})
	page.waitFrom(mark, wcs.MsgTalk, wcs.CallEstablished, 10*time.Second)
	waitAudio(t, page, 25, "the echo after the resume")
	// The backend's view (§G.2 /call/*): the call listed with its status, a DTMF sent by REST, and
	// the call hung up by REST (the page gets finish, the phone our BYE).
	var calls []rest.Call
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/call/find_all", "", &calls); code != http.StatusOK ||
		len(calls) != 1 || calls[0].CallID != id || calls[0].Status != wcs.CallEstablished || calls[0].Incoming ||
		calls[0].SIPStatus != 200 || calls[0].SessionID == "" {
		t.Errorf("call/find_all: %d %+v", code, calls)
	}
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/call/find", `{"status":"RING"}`, &calls); code != http.StatusNotFound {
		t.Errorf("call/find of a RING call: %d, want 404", code)
	}
	dtmf := fmt.Sprintf(`{"callId":%q,"dtmf":9,"type":"INFO"}`, id)
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/call/send_dtmf", dtmf, nil); code != http.StatusOK {
		t.Errorf("call/send_dtmf: %d", code)
	}
	testwait.Until(t, 5*time.Second, "the phone received the REST API's INFO", func() bool {
		return phone.Received("Signal=9")
	})
	terminate := fmt.Sprintf(`{"callId":%q}`, id)
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/call/terminate", terminate, nil); code != http.StatusOK {
		t.Errorf("call/terminate: %d", code)
	}
	fin := callArg(page.wait(wcs.MsgFinish, wcs.CallFinish, 10*time.Second), t)
	if fin.CallID != id || fin.Info != wcs.InfoNormalCallClearing {
		t.Errorf("finish %+v", fin)
	}
	if err := phone.Wait(10 * time.Second); err != nil {
		t.Fatalf("the phone: %v", err)
	}
	if code := restPost(t, c.RESTURLs[0]+"/rest-api/call/terminate", terminate, nil); code != http.StatusNotFound {
		t.Errorf("call/terminate of an ended call: %d, want 404", code)
	}
	if n := counterSum(t, c.Registry, metrics.NameSIPDTMF, metrics.DTMFSent); n != 3 {
		t.Errorf("DTMF sent counted %v, want 3 (two INFO, one RFC 4733)", n)
	}
	if s := page.summary(); strings.Contains(s, "fail") {
		t.Errorf("the page got a fail: %s", s)
	}
	testwait.Until(t, 10*time.Second, "the call's media gone", func() bool { return c.PeerConnections() == 0 })

	busy := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas_busy"})
	page.newPeer(webrtc.MimeTypePCMU)
	id2 := uuid.NewString()
	page.send(wcs.MsgCall, map[string]any{"callId": id2, "callee": "sip:uas@" + busy.Addr(), "hasAudio": true,
		"sdp": page.local(page.pc.CreateOffer(nil))})
	b := callArg(page.wait(wcs.MsgFinish, wcs.CallBusy, 10*time.Second), t)
	if b.CallID != id2 || b.SIPStatus != 486 {
		t.Errorf("busy: %+v", b)
	}
	testwait.Until(t, 10*time.Second, "the busy call's media gone", func() bool { return c.PeerConnections() == 0 })
}

// TestSIPTransfer: the page transfers an established call to 1002 (§E.12): the phone gets a REFER
// naming it, and the page ACCEPTED, TRYING and COMPLETED as the phone's NOTIFYs report the new
// call; then the call ends FINISH and the phone gets our BYE. Transferring a call that is gone
// is a fail.
func TestSIPTransfer(t *testing.T) {
	t.Parallel()
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uas_transfer"})
	page := dialPhone(t, c.WSURL, sipFields(reg, "alice", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)
	page.newPeer(webrtc.MimeTypePCMU)
	id := uuid.NewString()
	page.send(wcs.MsgCall, map[string]any{"callId": id, "callee": "sip:uas@" + phone.Addr(), "hasAudio": true,
		"sdp": page.local(page.pc.CreateOffer(nil))})
	var answer string
	if err := page.wait(wcs.MsgSetRemoteSDP, "", 10*time.Second).Arg(1, &answer); err != nil {
		t.Fatal(err)
	}
	if err := page.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	page.wait(wcs.MsgTalk, wcs.CallEstablished, 10*time.Second)

	page.send(wcs.MsgTransfer, map[string]any{"callId": id, "target": "1002"})
	var statuses []string
	for _, want := range []string{wcs.TransferAccepted, wcs.TransferTrying, wcs.TransferCompleted} {
		var ev wcs.TransferEvent
		if err := page.wait(wcs.MsgNotifyTransferEvent, want, 10*time.Second).Arg(0, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.CallID != id || ev.Target != "1002" || ev.Incoming {
			t.Errorf("notifyTransferEvent %s: %+v", want, ev)
		}
	}
	page.mu.Lock()
	for _, m := range page.msgs {
		if m.Message == wcs.MsgNotifyTransferEvent {
			var ev wcs.TransferEvent
			_ = m.Arg(0, &ev)
			statuses = append(statuses, ev.Status)
		}
	}
	page.mu.Unlock()
	if strings.Join(statuses, ",") != "ACCEPTED,TRYING,COMPLETED" {
		t.Errorf("transfer statuses %v, want ACCEPTED, TRYING, COMPLETED in that order", statuses)
	}
	fin := callArg(page.wait(wcs.MsgFinish, wcs.CallFinish, 10*time.Second), t)
	if fin.CallID != id {
		t.Errorf("finish %+v", fin)
	}
	if err := phone.Wait(10 * time.Second); err != nil {
		t.Fatalf("the phone: %v\n%s", err, phone.Messages())
	}
	mark := page.mark()
	page.send(wcs.MsgTransfer, map[string]any{"callId": id, "target": "1002"})
	if f := page.waitFrom(mark, wcs.MsgFail, "", 5*time.Second); !strings.Contains(fmt.Sprintf("%s", f.Data), wcs.InfoCallNotFound) {
		t.Errorf("transfer of an ended call: %s", f.Data)
	}
	testwait.Until(t, 10*time.Second, "the call's media gone", func() bool { return c.PeerConnections() == 0 })
}

// TestSIPMessage: the legacy sendMessage goes out as a SIP MESSAGE (the phone checks its text)
// and comes back notifyMessage ACCEPTED; a phone's MESSAGE to the registered page arrives as
// notifyMessage RECEIVED and is answered 200 (§E.15).
func TestSIPMessage(t *testing.T) {
	t.Parallel()
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	page := dialPhone(t, c.WSURL, sipFields(reg, "carol", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)

	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "message_uas"})
	page.send(wcs.MsgSendMessage, map[string]any{"id": "m1", "to": "sip:msg@" + phone.Addr(), "body": "hello from the page",
		"contentType": "text/plain"})
	var sent wcs.SIPMessage
	if err := page.wait(wcs.MsgNotifyMessage, wcs.MessageAccepted, 10*time.Second).Arg(0, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.ID != "m1" || sent.From != "carol" || !strings.HasPrefix(sent.Info, "200") {
		t.Errorf("notifyMessage ACCEPTED %+v", sent)
	}
	if err := phone.Wait(10 * time.Second); err != nil {
		t.Fatalf("the phone: %v\n%s", err, phone.Messages())
	}

	sender := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "message_uac", Remote: reg.Addr, Service: "carol"})
	var got wcs.SIPMessage
	if err := page.wait(wcs.MsgNotifyMessage, wcs.MessageReceived, 10*time.Second).Arg(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.From != "phone" || got.To != "carol" || !strings.Contains(got.Body, "hello from the phone") || got.ContentType != "text/plain" || got.ID == "" {
		t.Errorf("notifyMessage RECEIVED %+v", got)
	}
	if err := sender.Wait(10 * time.Second); err != nil {
		t.Fatalf("the sending phone: %v\n%s", err, sender.Messages())
	}
	mark := page.mark()
	page.send(wcs.MsgSendMessage, map[string]any{"id": "m2", "body": "to nobody"})
	var bad wcs.SIPMessage
	if err := page.waitFrom(mark, wcs.MsgNotifyMessage, wcs.MessageFailed, 5*time.Second).Arg(0, &bad); err != nil || bad.ID != "m2" {
		t.Errorf("a message without recipient: %+v %v", bad, err)
	}
}

// TestSIPCallIn: a phone calls the registered page: the page gets the offer before
// notifyIncomingCall (§C.5), then RING; it answers, the phone's audio arrives; the phone holds the
// call (re-INVITE sendonly, answered recvonly: the page sees HOLD and no audio) and resumes it
// (ESTABLISHED, audio again); the phone's BYE ends the call with FINISH.
func TestSIPCallIn(t *testing.T) {
	t.Parallel()
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	page := dialPhone(t, c.WSURL, sipFields(reg, "bob", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uac_hold", Remote: reg.Addr, Service: "bob", Duration: 2 * time.Second})

	offerEnv := page.wait(wcs.MsgSetRemoteSDP, "", 15*time.Second)
	inc := callArg(page.wait(wcs.MsgNotifyIncomingCall, "", 5*time.Second), t)
	page.mu.Lock()
	order := make([]string, 0, len(page.msgs))
	for _, m := range page.msgs {
		order = append(order, m.Message)
	}
	page.mu.Unlock()
	if i, j := indexOf(order, wcs.MsgSetRemoteSDP), indexOf(order, wcs.MsgNotifyIncomingCall); i < 0 || j < i {
		t.Errorf("messages %v: the offer must come before notifyIncomingCall", order)
	}
	if !inc.Incoming || inc.Caller != "phone" || inc.Callee != "bob" {
		t.Errorf("notifyIncomingCall %+v", inc)
	}
	page.wait(wcs.MsgRing, wcs.CallRing, 5*time.Second)
	var offer string
	if err := offerEnv.Arg(1, &offer); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "PCMA/8000") {
		t.Errorf("the page's offer is not the phone's first codec, PCMA:\n%s", offer)
	}
	page.newPeer(webrtc.MimeTypePCMA)
	if err := page.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	page.send(wcs.MsgAnswer, map[string]any{"callId": inc.CallID, "incoming": true, "hasAudio": true,
		"sdp": page.local(page.pc.CreateAnswer(nil))})
	page.wait(wcs.MsgTalk, wcs.CallEstablished, 10*time.Second)
	mark := page.mark()
	page.sendAudio()
	waitAudio(t, page, 10, "the phone's audio at the page")
	page.waitFrom(mark, wcs.MsgHold, wcs.CallHold, 10*time.Second)
	assertSilent(t, page, "the phone's hold")
	page.waitFrom(mark, wcs.MsgTalk, wcs.CallEstablished, 10*time.Second)
	waitAudio(t, page, 25, "the phone's audio after its resume")
	fin := callArg(page.wait(wcs.MsgFinish, wcs.CallFinish, 15*time.Second), t)
	if fin.CallID != inc.CallID {
		t.Errorf("finish %+v", fin)
	}
	if err := phone.Wait(10 * time.Second); err != nil {
		t.Fatalf("the phone: %v", err)
	}
	if n := counterSum(t, c.Registry, metrics.NameSIPDTMF, metrics.DTMFReceived); n != 1 {
		t.Errorf("DTMF received counted %v, want the phone's one INFO", n)
	}
	testwait.Until(t, 10*time.Second, "the call's media gone", func() bool { return c.PeerConnections() == 0 })
}

// TestSIPRegistrationRefused: a wrong password is a failed RegistrationStatusEvent with
// AUTHENTICATION_FAIL (§C.4), and the session stays open.
func TestSIPRegistrationRefused(t *testing.T) {
	t.Parallel()
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	fields := sipFields(reg, "carol", true)
	fields["sipPassword"] = "wrong"
	page := dialPhone(t, c.WSURL, fields)
	env := page.wait(wcs.MsgFail, "", 10*time.Second)
	var f wcs.Registration
	_ = env.Arg(0, &f)
	if f.APIMethod != wcs.APIRegistrationStatus || f.Status != wcs.RegistrationAuthFail || !strings.HasPrefix(f.Info, "401") {
		t.Errorf("fail %+v, want %s AUTHENTICATION_FAIL with the 401", f, wcs.APIRegistrationStatus)
	}
	page.send(wcs.MsgSendData, map[string]any{"operationId": "still-here", "payload": map[string]any{}})
	page.wait(wcs.MsgDataStatusEvent, "", 5*time.Second)
}

// waitAudio waits for n more packets of the call's audio at the page.
func waitAudio(t *testing.T, page *callPhone, n int64, what string) {
	t.Helper()
	from := page.received.Load()
	testwait.UntilOK(t, 10*time.Second, what, func() error {
		if got := page.received.Load() - from; got < n {
			return fmt.Errorf("%d packets", got)
		}
		return nil
	})
}

// assertSilent checks that no audio reaches the page for a while on a held call.
func assertSilent(t *testing.T, page *callPhone, what string) {
	t.Helper()
	time.Sleep(150 * time.Millisecond) // what was in flight when the hold began
	before := page.received.Load()
	time.Sleep(400 * time.Millisecond)
	if n := page.received.Load() - before; n != 0 {
		t.Errorf("%d packets reached the page during %s", n, what)
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
