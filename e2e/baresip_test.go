package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/cluster"
	"github.com/potok-media/potok/testkit/sipfix"
)

// TestWebSDKCallsBaresip: a WebSDK page in Chromium calls a real phone (baresip, registered on
// kamailio, answering at once and sending a 440 Hz tone) through Potok's bridge. The tone reaches
// the browser as audio with energy (Chromium's own inbound-rtp statistics), and the browser's
// fake microphone reaches baresip, whose recording of the call is not silent.
func TestWebSDKCallsBaresip(t *testing.T) {
	requireBrowser(t)
	requireOwnServer(t)
	checkNoLeak(t)
	reg := sipfix.Kamailio(t, true)
	phone := sipfix.StartBaresip(t, reg, "carol", 440)
	c := cluster.Start(t, cluster.Options{SIP: true})
	base := serveAssets(t)
	b, ctx := launch(t, 2*time.Minute)
	q := url.Values{"ws": {c.WSURL}, "login": {"alice"}, "password": {sipfix.Accounts["alice"]}, "domain": {"127.0.0.1"},
		"port": {strconv.Itoa(reg.Port)}, "callee": {"carol"}, "seconds": {"5"}}
	if err := b.Navigate(ctx, base+"/sip_call.html?"+pageQuery(q)); err != nil {
		t.Fatal(err)
	}
	var res struct {
		OK               bool
		Error            string
		Statuses         []string
		Codec            string
		BytesReceived    int
		PacketsReceived  int
		BytesSent        int
		TotalAudioEnergy float64
		MaxAudioLevel    float64
		Polls            int
	}
	waitResult(t, b, ctx, time.Minute, &res)
	t.Logf("page: %+v", res)
	if !res.OK {
		t.Fatalf("the call: %s (statuses %v)\nbaresip:\n%s", res.Error, res.Statuses, phone.Log())
	}
	if res.PacketsReceived < 100 || res.BytesSent == 0 {
		t.Errorf("audio packets: %d received, %d bytes sent in 5 s", res.PacketsReceived, res.BytesSent)
	}
	if res.TotalAudioEnergy <= 0 || res.MaxAudioLevel < 0.01 {
		t.Errorf("the phone's tone arrived silent: totalAudioEnergy %v, audioLevel at most %v", res.TotalAudioEnergy, res.MaxAudioLevel)
	}
	var wavs []string
	deadline := time.Now().Add(10 * time.Second)
	for len(wavs) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		wavs = phone.DecodedWAVs()
	}
	if len(wavs) == 0 {
		t.Fatalf("baresip recorded no call:\n%s", phone.Log())
	}
	time.Sleep(500 * time.Millisecond) // baresip finishes the file when the call ends
	rms, err := wavRMS(wavs[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baresip received the browser's audio at %.1f dBFS", 20*math.Log10(rms))
	if rms < 0.001 { // −60 dBFS: Chromium's fake microphone beeps well above it
		t.Errorf("the browser's audio reached baresip silent: RMS %.5f", rms)
	}
}

// wavRMS is the RMS level (0..1) of a 16-bit PCM WAV file.
func wavRMS(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, fmt.Errorf("%s: not a WAV file", path)
	}
	bits := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		body := b[off+8 : min(len(b), off+8+size)]
		switch id {
		case "fmt ":
			if len(body) >= 16 {
				bits = int(binary.LittleEndian.Uint16(body[14:16]))
			}
		case "data":
			if bits != 16 {
				return 0, fmt.Errorf("%s: %d bits per sample, want 16", path, bits)
			}
			var sum float64
			n := len(body) / 2
			for i := range n {
				v := float64(int16(binary.LittleEndian.Uint16(body[2*i:]))) / 32768
				sum += v * v
			}
			if n == 0 {
				return 0, nil
			}
			return math.Sqrt(sum / float64(n)), nil
		}
		off += 8 + size + size%2
	}
	return 0, errors.New(path + ": no data chunk")
}
