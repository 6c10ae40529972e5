package sipfix

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/potok-media/potok/testkit/testwait"
)

// Baresip is a running baresip: a phone with real audio. It registers Login at the registrar,
// answers every call at once, sends a sine tone of ToneHz and writes what it receives to a WAV
// file per call (DecodedWAVs).
type Baresip struct {
	Login  string
	ToneHz int
	dir    string
	p      *proc
}

// StartBaresip runs baresip registered as login (an account of Accounts) at reg until the test
// ends, and waits for its registration.
func StartBaresip(t testing.TB, reg *Registrar, login string, toneHz int) *Baresip {
	t.Helper()
	bin := binary(t, "baresip", "/usr/bin/baresip")
	b := &Baresip{Login: login, ToneHz: toneHz, dir: t.TempDir()}
	rtp := FreePort(t) &^ 1
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:" + strconv.Itoa(FreePort(t)),
		"net_interface 127.0.0.1", // an interface name fails in containers; the address works
		"call_local_timeout 30",
		"call_max_calls 2",
		"audio_player aubridge,nil", // no sound card: what is received is only dumped (sndfile)
		"audio_alert aubridge,nil",
		"audio_source ausine," + strconv.Itoa(toneHz),
		"ausrc_srate 48000", // ausine generates 48 kHz stereo only
		"ausrc_channels 2",
		"auplay_srate 48000",
		"auplay_channels 2",
		fmt.Sprintf("rtp_ports %d-%d", rtp, rtp+20),
		"rtp_timeout 0",
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module opus.so",
		"module ausine.so",
		"module aubridge.so",
		"module sndfile.so",
		"snd_path " + b.dir,
		"module_app account.so",
		"module_app menu.so",
	}, "\n") + "\n"
	account := fmt.Sprintf("<sip:%s@%s;transport=udp>;auth_pass=%s;answermode=auto;regint=60;audio_codecs=PCMU,opus/48000/2\n",
		login, reg.Addr, Accounts[login])
	for name, body := range map[string]string{"config": config, "accounts": account} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.p = start(t, "baresip", bin, b.dir, "-f", b.dir)
	testwait.UntilOK(t, 15*time.Second, "baresip registered", func() error {
		if b.p.exited() {
			t.Fatalf("baresip exited:\n%s", b.p.tail())
		}
		if !strings.Contains(b.p.out.String(), "200 OK") {
			return fmt.Errorf("log so far:\n%s", b.p.tail())
		}
		return nil
	})
	return b
}

// DecodedWAVs are the WAV files of the audio baresip received, one per call.
func (b *Baresip) DecodedWAVs() []string {
	m, _ := filepath.Glob(filepath.Join(b.dir, "dump-*-dec.wav"))
	return m
}

// Log is baresip's output so far.
func (b *Baresip) Log() string { return b.p.tail() }
