package forward

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Drop reasons (the reason label of potok_mediad_rtp_dropped_packets_total).
const (
	DropQueueFull   = "queue_full"   // a writer's queue was full: its subscribers NACK the packet
	DropOverwritten = "overwritten"  // the cache slot was reused before the writer read it
	DropWriteFailed = "write_failed" // pion refused the write (transport closing, SRTP error)
	DropMalformed   = "malformed"    // not an RTP packet, or larger than MaxPacketSize
)

// latencySampleEvery is how often a packet's forwarding latency is measured: one packet in 64
// per track carries its arrival time to the writers, the others nothing (no clock read).
const latencySampleEvery = 64

// Metrics are the forwarder's Prometheus instruments, shared by every track of a daemon. No
// per-stream labels (README "Monitoring"): per-stream figures go to the WS rate messages and the
// REST API instead. Every label value is resolved when the instruments are made, so the packet
// path only adds to counters it holds (atomics, no allocation, no lock).
type Metrics struct {
	audio, video KindMetrics

	NACKsReceived    prometheus.Counter // RTCP NACK packets from subscribers
	PLIsReceived     prometheus.Counter
	FIRsReceived     prometheus.Counter
	KeyframeRequests prometheus.Counter // PLIs sent to publishers, after deduplication
	// Latency is the time from a packet's arrival to its write to the last subscriber of a
	// writer, sampled (latencySampleEvery).
	Latency prometheus.Histogram
	// FirstKeyframe is the time from a player's request to the first key frame written to it.
	FirstKeyframe prometheus.Histogram

	collectors []prometheus.Collector
}

// KindMetrics are the instruments of one media kind (the kind label).
type KindMetrics struct {
	ReceivedPackets, ReceivedBytes prometheus.Counter
	SentPackets, SentBytes         prometheus.Counter
	LostPackets                    prometheus.Counter // sequence gaps in what publishers sent
	RetransmittedPackets           prometheus.Counter // resent from the cache on a NACK
	DroppedQueueFull               prometheus.Counter
	DroppedOverwritten             prometheus.Counter
	DroppedWriteFailed             prometheus.Counter
	DroppedMalformed               prometheus.Counter
	// FirstPacket is the time from a player's request to the first packet written to it.
	FirstPacket prometheus.Observer
}

// firstBuckets cover a join from milliseconds (loopback) to an ICE timeout.
var firstBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics creates the instruments and registers them with reg (nil = not registered, for tests
// and embedding).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad", Name: name, Help: help}
	}
	recvP := prometheus.NewCounterVec(opts("rtp_received_packets_total", "RTP packets received from publishers, by kind."), []string{"kind"})
	recvB := prometheus.NewCounterVec(opts("rtp_received_bytes_total", "RTP bytes (header and payload) received from publishers, by kind."), []string{"kind"})
	sentP := prometheus.NewCounterVec(opts("rtp_sent_packets_total", "RTP packets written to subscribers (players and relays), by kind."), []string{"kind"})
	sentB := prometheus.NewCounterVec(opts("rtp_sent_bytes_total", "RTP bytes (header and payload) written to subscribers, by kind."), []string{"kind"})
	lost := prometheus.NewCounterVec(opts("rtp_lost_packets_total", "RTP packets missing in what publishers sent (sequence gaps), by kind."), []string{"kind"})
	retr := prometheus.NewCounterVec(opts("rtp_retransmitted_packets_total", "RTP packets resent to subscribers from the packet cache on a NACK, by kind."), []string{"kind"})
	drop := prometheus.NewCounterVec(opts("rtp_dropped_packets_total", "RTP packets the forwarder did not deliver, by kind and reason."), []string{"kind", "reason"})
	fb := prometheus.NewCounterVec(opts("rtcp_feedback_received_total", "RTCP feedback packets received from subscribers, by type (nack, pli, fir)."), []string{"type"})
	first := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "potok", Subsystem: "mediad",
		Name: "play_first_packet_seconds", Help: "Time from a play request at this daemon to the first RTP packet written to the player, by kind.",
		Buckets: firstBuckets}, []string{"kind"})
	m := &Metrics{
		NACKsReceived:    fb.WithLabelValues("nack"),
		PLIsReceived:     fb.WithLabelValues("pli"),
		FIRsReceived:     fb.WithLabelValues("fir"),
		KeyframeRequests: prometheus.NewCounter(opts("keyframe_requests_sent_total", "PLIs sent to publishers (after deduplication).")),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "forwarding_latency_seconds", Help: "Time from a packet's arrival to its write to a writer's subscribers (one packet in 64 per track).",
			Buckets: []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, .01, .025, .05, .1}}),
		FirstKeyframe: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "potok", Subsystem: "mediad",
			Name: "play_first_keyframe_seconds", Help: "Time from a play request at this daemon to the first video key frame written to the player.",
			Buckets: firstBuckets}),
	}
	for _, k := range []struct {
		km   *KindMetrics
		kind string
	}{{&m.audio, "audio"}, {&m.video, "video"}} {
		*k.km = KindMetrics{
			ReceivedPackets: recvP.WithLabelValues(k.kind), ReceivedBytes: recvB.WithLabelValues(k.kind),
			SentPackets: sentP.WithLabelValues(k.kind), SentBytes: sentB.WithLabelValues(k.kind),
			LostPackets: lost.WithLabelValues(k.kind), RetransmittedPackets: retr.WithLabelValues(k.kind),
			DroppedQueueFull:   drop.WithLabelValues(k.kind, DropQueueFull),
			DroppedOverwritten: drop.WithLabelValues(k.kind, DropOverwritten),
			DroppedWriteFailed: drop.WithLabelValues(k.kind, DropWriteFailed),
			DroppedMalformed:   drop.WithLabelValues(k.kind, DropMalformed),
			FirstPacket:        first.WithLabelValues(k.kind),
		}
	}
	m.collectors = []prometheus.Collector{recvP, recvB, sentP, sentB, lost, retr, drop, fb, first,
		m.KeyframeRequests, m.Latency, m.FirstKeyframe}
	if reg != nil {
		for _, col := range m.collectors {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("forward: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Kind is the instruments of one media kind (video for anything but audio).
func (m *Metrics) Kind(k webrtc.RTPCodecType) *KindMetrics {
	if k == webrtc.RTPCodecTypeAudio {
		return &m.audio
	}
	return &m.video
}

// Packets are the RTP packets received and sent so far, both kinds (the node record's load).
func (m *Metrics) Packets() (received, sent float64) {
	for _, k := range []*KindMetrics{&m.audio, &m.video} {
		received += counterValue(k.ReceivedPackets)
		sent += counterValue(k.SentPackets)
	}
	return received, sent
}

// observeSince records the seconds from start (unix nanos) to now in o.
func observeSince(o prometheus.Observer, start int64) {
	o.Observe(float64(time.Now().UnixNano()-start) / 1e9)
}

// counterValue reads a Prometheus counter's current value.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
