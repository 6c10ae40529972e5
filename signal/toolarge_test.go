package signal_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal"
	"github.com/potok-media/potok/signal/metrics"
)

// bigOffer is an SDP offer of n sendonly audio m-lines of about 300 bytes each.
func bigOffer(n int) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=msid-semantic: WMS\r\n")
	for i := range n {
		fmt.Fprintf(&b, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"+
			"a=ice-ufrag:Xq3b\r\na=ice-pwd:8hbLr3bV2vIq9Dbz7QzqZq2E\r\na=fingerprint:sha-256 00:11:22:33\r\n"+
			"a=setup:actpass\r\na=mid:%d\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"+
			"a=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:%d cname:e2e\r\n", i, 1000000+i)
	}
	return b.String()
}

// sdkStream is a publishStream/playStream object in the WebSDK's field order (flashphoner-core.js
// publish, play): mediaSessionId and name first, the SDP after them.
type sdkStream struct {
	MediaSessionID string `json:"mediaSessionId"`
	Name           string `json:"name"`
	Published      bool   `json:"published"`
	HasVideo       bool   `json:"hasVideo"`
	HasAudio       bool   `json:"hasAudio"`
	Status         string `json:"status"`
	Record         bool   `json:"record"`
	MediaProvider  string `json:"mediaProvider"`
	SDP            string `json:"sdp"`
	Bitrate        int    `json:"bitrate"`
	MinBitrate     int    `json:"minBitrate"`
	MaxBitrate     int    `json:"maxBitrate"`
}

func sdkFrame(t *testing.T, message, id, name string, publish bool, sdp string) []byte {
	t.Helper()
	b, err := json.Marshal(struct { // JSON.stringify({message, data: [obj]}), in that order
		Message string      `json:"message"`
		Data    []sdkStream `json:"data"`
	}{message, []sdkStream{{MediaSessionID: id, Name: name, Published: publish, HasVideo: true, HasAudio: true,
		Status: wcs.StatusPending, MediaProvider: "WebRTC", SDP: sdp}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A publishStream over the frame limit (an offer of 1,000 m-lines, ~300 KB) gets FAILED for its
// mediaSessionId and name with the frame-too-large info, instead of a bare fail that leaves the
// WebSDK's stream PENDING for ever (docs/protocol.md §0 rule 10, §J). Nothing reaches the media
// daemon, and the session goes on: the next publish works.
func TestOversizedPublishFailsItsStream(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{NodeID: "sig-a"}, "md-1", true)
	c, other := e.dial(t), e.dial(t)
	c.connect(nil)
	other.connect(nil)

	frame := sdkFrame(t, wcs.MsgPublishStream, "big-1", "cam", true, bigOffer(1000))
	if len(frame) <= wcs.MaxFrameBytes || len(frame) > 4*wcs.MaxFrameBytes {
		t.Fatalf("frame of %d bytes, want between the limit and the hard limit", len(frame))
	}
	c.sendRaw(frame)
	st := c.streamStatus()
	wantInfo := fmt.Sprintf("Frame too large: %d bytes, limit %d", len(frame), wcs.MaxFrameBytes)
	if st.MediaSessionID != "big-1" || st.Name != "cam" || st.Status != wcs.StatusFailed || st.Info != wantInfo ||
		!st.Published || st.MediaProvider != "WebRTC" {
		t.Errorf("answer to the oversized publish: %+v, want FAILED %q", st, wantInfo)
	}
	noRecv(t, md.publishes, "publish", 100*time.Millisecond)
	c.quiet(100 * time.Millisecond) // one answer only

	// An oversized play is failed the same way.
	c.sendRaw(sdkFrame(t, wcs.MsgPlayStream, "big-2", "cam", false, bigOffer(1000)))
	if st := c.streamStatus(); st.MediaSessionID != "big-2" || st.Status != wcs.StatusFailed || st.Published ||
		!strings.HasPrefix(st.Info, "Frame too large: ") {
		t.Errorf("answer to the oversized play: %+v", st)
	}

	// The session is usable: the name was never claimed and publishes now.
	c.send(wcs.MsgPublishStream, publishReq("m1", "cam"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	if st := c.streamStatus(); st.MediaSessionID != "m1" || st.Status != wcs.StatusPublishing {
		t.Errorf("publish after the oversized one: %+v", st)
	}
	other.quiet(100 * time.Millisecond)
	if n := e.metric(metrics.NameErrors, metrics.ReasonFrameTooLarge); n != 2 {
		t.Errorf("errors{reason=frame_too_large} = %v, want 2", n)
	}
}

// Past the hard limit (4 × the frame limit) the connection is closed with 1009 as before, but the
// stream the frame named gets its FAILED first. The session's live streams end with the socket, as
// on any disconnect (docs/protocol.md §E.8): the SDK fails them itself when the socket closes.
func TestPublishOverHardLimitFailsBeforeClose(t *testing.T) {
	e, md := envWithMediad(t, signal.Config{}, "md-1", true)
	c, other := e.dial(t), e.dial(t)
	c.connect(nil)
	other.connect(nil)
	c.send(wcs.MsgPublishStream, publishReq("m1", "live"))
	pr := recv(t, md.publishes, "publish")
	c.expectAnswer("m1")
	md.connected(pr.Owner, true)
	c.streamStatus() // PUBLISHING

	frame := sdkFrame(t, wcs.MsgPublishStream, "huge-1", "cam", true, bigOffer(4000))
	if len(frame) <= 4*wcs.MaxFrameBytes {
		t.Fatalf("frame of %d bytes, want above the hard limit", len(frame))
	}
	c.sendRaw(frame)
	st := c.streamStatus()
	wantInfo := fmt.Sprintf("Frame too large: over %d bytes, limit %d", 4*wcs.MaxFrameBytes, wcs.MaxFrameBytes)
	if st.MediaSessionID != "huge-1" || st.Name != "cam" || st.Status != wcs.StatusFailed || st.Info != wantInfo {
		t.Errorf("answer before the close: %+v, want FAILED %q", st, wantInfo)
	}
	if code := c.waitClosed(waitFor); code != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", code)
	}
	// The live publisher is stopped with the session and its name released; the other client is fine.
	if sr := recv(t, md.stops, "stop"); sr.MediaSessionID != "m1" {
		t.Errorf("StopRequest %+v", sr)
	}
	eventually(t, "the name released", func() bool { return other.available("live") == "false" })
}
