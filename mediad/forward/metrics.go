package forward

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the forwarder's Prometheus counters, shared by every track of a daemon. No per-stream
// labels (design.md "Observability"): per-stream figures go to the WS rate messages instead.
type Metrics struct {
	ReceivedPackets       prometheus.Counter
	ReceivedBytes         prometheus.Counter
	ForwardedPackets      prometheus.Counter
	ForwardedBytes        prometheus.Counter
	DroppedPackets        prometheus.Counter
	NACKsReceived         prometheus.Counter
	RetransmittedPackets  prometheus.Counter
	KeyframeRequests      prometheus.Counter
	SubscriberPLIReceived prometheus.Counter
}

// NewMetrics creates the counters and registers them with reg (nil = not registered, for tests
// and embedding).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "potok", Subsystem: "mediad", Name: name, Help: help})
	}
	m := &Metrics{
		ReceivedPackets:       c("received_packets_total", "RTP packets received from publishers."),
		ReceivedBytes:         c("received_bytes_total", "RTP bytes (header and payload) received from publishers."),
		ForwardedPackets:      c("forwarded_packets_total", "RTP packets written to subscribers."),
		ForwardedBytes:        c("forwarded_bytes_total", "RTP bytes (header and payload) written to subscribers."),
		DroppedPackets:        c("dropped_packets_total", "Packets not fanned out because a writer queue was full."),
		NACKsReceived:         c("nacks_received_total", "RTCP NACK packets received from subscribers."),
		RetransmittedPackets:  c("retransmitted_packets_total", "Packets resent to subscribers from the packet cache."),
		KeyframeRequests:      c("keyframe_requests_total", "PLIs sent to publishers (after deduplication)."),
		SubscriberPLIReceived: c("subscriber_plis_received_total", "PLI/FIR packets received from subscribers."),
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{m.ReceivedPackets, m.ReceivedBytes, m.ForwardedPackets,
			m.ForwardedBytes, m.DroppedPackets, m.NACKsReceived, m.RetransmittedPackets, m.KeyframeRequests,
			m.SubscriberPLIReceived} {
			if err := reg.Register(col); err != nil {
				return nil, fmt.Errorf("forward: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
