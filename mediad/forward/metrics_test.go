package forward

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsOfATrack: what one published video track and its players add to the daemon's
// families: packets and bytes by kind in and out, sequence gaps, malformed packets, the sampled
// forwarding latency, each player's time to its first packet and key frame (once), feedback by
// type and retransmissions.
func TestMetricsOfATrack(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTrack(TrackConfig{Kind: webrtc.RTPCodecTypeVideo, MimeType: webrtc.MimeTypeVP8, Metrics: m})
	defer tr.Close()
	subs := subscribe(t, tr, 2, false)
	tr.Push(vp8Packet(1, 100, false, 0, 0, true)) // before the key frame: for nobody
	tr.Push(vp8Packet(2, 200, true, 320, 240, true))
	const total = 2 * latencySampleEvery
	seq := uint16(3)
	for ; seq < total; seq++ {
		tr.Push(vp8Packet(seq, 300, false, 0, 0, true))
	}
	tr.Push(vp8Packet(seq+3, 400, false, 0, 0, true)) // 3 lost
	tr.Push([]byte{0x80})                             // not RTP
	sent := float64(2 * (total - 1))                  // from the key frame (seq 2) on, to both players
	for _, s := range subs {
		eventually(t, "every packet from the key frame on", func() bool { return float64(s.sink.count.Load()) == sent/2 })
	}
	video := m.Kind(webrtc.RTPCodecTypeVideo)
	eventually(t, "sent counted", func() bool { return counterValue(video.SentPackets) == sent })
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"received", counterValue(video.ReceivedPackets), total},
		{"audio received", counterValue(m.Kind(webrtc.RTPCodecTypeAudio).ReceivedPackets), 0},
		{"lost", counterValue(video.LostPackets), 3},
		{"malformed", counterValue(video.DroppedMalformed), 1},
		{"queue full", counterValue(video.DroppedQueueFull), 0},
		{"first key frame observations", float64(histogramCount(t, reg, "potok_mediad_play_first_keyframe_seconds")), 2},
		{"first packet observations", float64(histogramCount(t, reg, "potok_mediad_play_first_packet_seconds")), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	// One packet in latencySampleEvery carries its arrival time, observed once per writer.
	if n := histogramCount(t, reg, "potok_mediad_forwarding_latency_seconds"); n < 1 || n > 2*writersFor(len(subs)) {
		t.Errorf("%d latency observations for %d packets and %d writers", n, total, writersFor(len(subs)))
	}
	if got, want := counterValue(video.SentBytes), counterValue(video.SentPackets); got <= want {
		t.Errorf("sent bytes %v for %v packets", got, want)
	}

	d := subs[0].dt
	d.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: []rtcp.NackPair{{PacketID: 5}}},
		&rtcp.PictureLossIndication{}, &rtcp.FullIntraRequest{}})
	for _, c := range []struct {
		c    prometheus.Counter
		what string
	}{{m.NACKsReceived, "nack"}, {m.PLIsReceived, "pli"}, {m.FIRsReceived, "fir"}, {video.RetransmittedPackets, "retransmitted"}} {
		if v := counterValue(c.c); v != 1 {
			t.Errorf("%s: %v, want 1", c.what, v)
		}
	}
	// A relay's waits are not a player's: not timed.
	relay := NewDownTrack(tr, "video", "relay", vp8)
	relay.SetRelay()
	if relay.RequestedAt() != 0 || d.RequestedAt() == 0 {
		t.Errorf("requested: relay %d, player %d", relay.RequestedAt(), d.RequestedAt())
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}
