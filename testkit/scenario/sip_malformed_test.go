package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/sipua"
	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/sipfix"
	"github.com/potok-media/potok/testkit/testwait"
)

// TestSIPMalformed: hostile SIP at a signal node's user agent leaves it serving (issue 11):
// datagrams that do not parse are dropped, counted and logged; a TCP stream that cannot be framed
// is closed; INVITEs with broken or oversized SDP to a registered page are refused without
// reaching the page; a sipsak flood, sipsak's randomly trashed requests and a sipvicious scan
// (which finds "Potok") change nothing. Afterwards OPTIONS is answered and a real call reaches the
// page.
func TestSIPMalformed(t *testing.T) {
	t.Parallel()
	sipsak := sipfix.Binary(t, "sipsak", "/usr/bin/sipsak")
	svmap := sipfix.Binary(t, "svmap", "/usr/bin/svmap")
	reg := sipfix.Kamailio(t, true)
	c := cluster.Start(t, cluster.Options{SIP: true})
	agent := c.SIPAddrs[0]
	page := dialPhone(t, c.WSURL, sipFields(reg, "carol", true))
	page.wait(wcs.MsgRegistered, "", 10*time.Second)

	udp, err := net.Dial("udp", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	from := udp.LocalAddr().String()
	unparsable := []string{
		request("OPTIONS", "sip:"+agent, from, "CSeq: one OPTIONS", ""),
		strings.Replace(request("OPTIONS", "sip:"+agent, from, "CSeq: 1 OPTIONS", "v=0\r\n"), "Content-Length: 5", "Content-Length: 4000", 1),
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not SIP at all\r\n\r\n",
		"INVITE\r\n\r\n",
		request("OPTIONS", "sip:"+agent, from, "CSeq: 1 OPTIONS\r\nVia: SIP/2.0/UDP", ""),
	}
	for _, m := range unparsable {
		if _, err := udp.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	testwait.UntilOK(t, 5*time.Second, "the malformed datagrams counted", func() error {
		if n := counterSum(t, c.Registry, sipua.NameMalformed, "udp"); n < float64(len(unparsable)) {
			return fmt.Errorf("%v of %d counted", n, len(unparsable))
		}
		return nil
	})
	if got := readSIP(udp, 300*time.Millisecond); got != "" {
		t.Errorf("a malformed datagram was answered: %q", got)
	}

	// Well-formed SIP with hostile SDP, to the registered page: refused by the bridge, never shown.
	carol := "sip:carol@" + agent
	hostile := map[string]string{
		"broken SDP":    "v=0\r\nm=audio notaport RTP/AVP x y z\r\n",
		"no audio":      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n",
		"oversized SDP": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n" + strings.Repeat("a=x:"+strings.Repeat("y", 60)+"\r\n", 400),
	}
	for what, sdp := range hostile {
		inv := request("INVITE", carol, from, "CSeq: 1 INVITE\r\nContact: <sip:fuzz@"+from+">\r\nContent-Type: application/sdp", sdp)
		if _, err := udp.Write([]byte(inv)); err != nil {
			t.Fatal(err)
		}
		final := ""
		deadline := time.Now().Add(10 * time.Second)
		for final == "" && time.Now().Before(deadline) {
			if line := readSIP(udp, time.Second); line != "" && !strings.HasPrefix(line, "SIP/2.0 1") {
				final = line
			}
		}
		if !strings.HasPrefix(final, "SIP/2.0 4") && !strings.HasPrefix(final, "SIP/2.0 5") {
			t.Errorf("INVITE with %s: final answer %q, want a 4xx or 5xx", what, final)
		}
		sendACK(udp, carol, from) // ends the refused INVITE's transaction
	}

	// A TCP stream that cannot be framed is closed.
	tcp, err := net.Dial("tcp", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	_, _ = tcp.Write([]byte("REGISTER sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n" + strings.Repeat("\x00junk", 100) + "\r\n\r\n"))
	_ = tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(tcp); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("the malformed TCP stream was not closed: %v", err)
	}

	run := func(bin string, args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	if out, err := run(sipsak, "-F", "-e", "300", "-s", "sip:"+agent); err != nil {
		t.Errorf("sipsak flood of 300 OPTIONS: %v\n%s", err, out)
	}
	for range 5 {
		_, _ = run(sipsak, "-R", "-t", "2", "-s", "sip:"+agent) // trashed requests: answered or not, nothing breaks
	}
	scanPort := sipfix.FreePort(t)
	host, port, _ := net.SplitHostPort(agent)
	if out, err := run(svmap, host, "-p", port, "-b", "127.0.0.1", "-P", fmt.Sprint(scanPort)); err != nil || !strings.Contains(out, "Potok") {
		t.Errorf("svmap scan: %v, want the agent found as Potok:\n%s", err, out)
	}

	if out, err := run(sipsak, "-s", "sip:"+agent); err != nil {
		t.Fatalf("OPTIONS after the attack: %v\n%s", err, out)
	}
	if page.mark() > 0 {
		for _, m := range []string{wcs.MsgNotifyIncomingCall, wcs.MsgSetRemoteSDP} {
			if n := page.count(m); n != 0 {
				t.Errorf("the page got %d %s from the hostile INVITEs", n, m)
			}
		}
	}
	phone := sipfix.StartSipp(t, sipfix.SippOptions{Scenario: "uac", Remote: reg.Addr, Service: "carol", Duration: time.Second})
	inc := callArg(page.wait(wcs.MsgNotifyIncomingCall, "", 15*time.Second), t)
	page.send(wcs.MsgHangup, map[string]any{"callId": inc.CallID})
	page.wait(wcs.MsgFinish, "", 10*time.Second)
	_ = phone.Wait(10 * time.Second) // it expected a 200: its failure is the refusal
}

// request is a SIP request with the headers every request needs and a Content-Length of body.
func request(method, uri, from, extra, body string) string {
	return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bK%d\r\nFrom: <sip:fuzz@%s>;tag=f%d\r\n"+
		"To: <%s>\r\nCall-ID: malformed-%d@%s\r\nMax-Forwards: 70\r\n%s\r\nContent-Length: %d\r\n\r\n%s",
		method, uri, from, time.Now().UnixNano(), from, time.Now().UnixNano(), uri, time.Now().UnixNano(), from, extra, len(body), body)
}

// sendACK acknowledges a refused INVITE loosely (its transaction times out otherwise, harmlessly).
func sendACK(c net.Conn, uri, from string) {
	_, _ = c.Write([]byte(request("ACK", uri, from, "CSeq: 1 ACK", "")))
}

// readSIP reads one datagram and returns its first line ("" when none came within d).
func readSIP(c net.Conn, d time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
	return string(line)
}

// counterSum is the sum of the series of a counter family whose label values include value.
func counterSum(t *testing.T, g prometheus.Gatherer, name, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
