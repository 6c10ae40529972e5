package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Latency summarises durations by nearest-rank percentiles, in milliseconds for JSON.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	Max   float64 `json:"maxMs"`
}

// summarize computes p50/p95/max; an empty input gives a zero Latency.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Latency{Count: len(s), P50: ms(percentile(s, 50)), P95: ms(percentile(s, 95)), Max: ms(s[len(s)-1])}
}

// percentile is the nearest-rank percentile of sorted (p in 0..100).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Report is the result of a fanout run.
type Report struct {
	Name        string  `json:"name"`
	Subscribers int     `json:"subscribers"`
	Playing     int     `json:"playing"` // players that reached PLAYING
	Failed      int     `json:"failed"`  // players that never played or failed
	Bitrate     int     `json:"bitrate"`
	FPS         int     `json:"fps"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	DurationSec float64 `json:"durationSec"`

	PublisherSentVideoPackets uint64  `json:"publisherSentVideoPackets"`
	PublisherKeyframeRequests uint64  `json:"publisherKeyframeRequests"` // PLI/FIR the server sent the publisher
	ExpectedVideoPackets      uint64  `json:"expectedVideoPackets"`      // sum over players of packets sent in their window
	DeliveredVideoPackets     uint64  `json:"deliveredVideoPackets"`     // sum over players of packets received in it
	DeliveryRatio             float64 `json:"deliveryRatio"`

	ServerCPUSeconds         *float64 `json:"serverCpuSeconds,omitempty"`
	ServerCPUMicrosPerPacket *float64 `json:"serverCpuMicrosPerPacket,omitempty"`
	ServerCPUUnavailable     string   `json:"serverCpuUnavailable,omitempty"`
	// Steady state: from the first second every player was playing to the end, so joining costs
	// (WebSocket, ICE, DTLS handshakes) are left out. Absent when players never all played.
	SteadyCPUMicrosPerPacket *float64 `json:"steadyCpuMicrosPerPacket,omitempty"`
	SteadySeconds            float64  `json:"steadySeconds,omitempty"`
	// Join steps, from the session's WebSocket connect: the answer (setRemoteSDP) applied, the peer
	// connection connected (ICE and DTLS done), PUBLISHING/PLAYING received, first RTP packet.
	PublisherConnectToAnswer        float64 `json:"publisherConnectToAnswerMs"`
	PublisherConnectToPeerConnected float64 `json:"publisherConnectToPeerConnectedMs"`
	PublisherConnectToPublish       float64 `json:"publisherConnectToPublishingMs"`
	PublisherConnectToFirst         float64 `json:"publisherConnectToFirstPacketMs"`
	PlayerConnectToAnswer           Latency `json:"playerConnectToAnswer"`
	PlayerConnectToPeerConnected    Latency `json:"playerConnectToPeerConnected"`
	PlayerConnectToPlaying          Latency `json:"playerConnectToPlaying"`
	PlayerConnectToFirst            Latency `json:"playerConnectToFirstPacket"`
	PlayerConnectToKeyframe         Latency `json:"playerConnectToFirstKeyframe"`

	Errors []string `json:"errors,omitempty"` // first few player errors
}

// maxErrors bounds the errors kept in a report.
const maxErrors = 10

// Text renders the report for people.
func (r Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fanout %s: %d subscribers (%d playing, %d failed), %d bit/s, %dx%d@%d, %.1fs\n",
		r.Name, r.Subscribers, r.Playing, r.Failed, r.Bitrate, r.Width, r.Height, r.FPS, r.DurationSec)
	fmt.Fprintf(&b, "video packets: publisher sent %d (%d key frame requests); players expected %d, delivered %d, ratio %.4f\n",
		r.PublisherSentVideoPackets, r.PublisherKeyframeRequests, r.ExpectedVideoPackets, r.DeliveredVideoPackets, r.DeliveryRatio)
	switch {
	case r.ServerCPUUnavailable != "":
		fmt.Fprintf(&b, "server CPU: unavailable (%s)\n", r.ServerCPUUnavailable)
	case r.ServerCPUSeconds != nil && r.ServerCPUMicrosPerPacket != nil:
		fmt.Fprintf(&b, "server CPU: %.3f s, %.2f µs per delivered packet\n", *r.ServerCPUSeconds, *r.ServerCPUMicrosPerPacket)
	case r.ServerCPUSeconds != nil:
		fmt.Fprintf(&b, "server CPU: %.3f s, no packet delivered\n", *r.ServerCPUSeconds)
	}
	if r.SteadyCPUMicrosPerPacket != nil {
		fmt.Fprintf(&b, "server CPU with every player playing (%.1f s): %.2f µs per delivered packet\n",
			r.SteadySeconds, *r.SteadyCPUMicrosPerPacket)
	}
	fmt.Fprintf(&b, "publisher: connect→PUBLISHING %.1f ms, connect→first packet %.1f ms (answer %.1f ms, peer connected %.1f ms)\n",
		r.PublisherConnectToPublish, r.PublisherConnectToFirst, r.PublisherConnectToAnswer, r.PublisherConnectToPeerConnected)
	for _, l := range []struct {
		what string
		l    Latency
	}{
		{"PLAYING", r.PlayerConnectToPlaying},
		{"first packet", r.PlayerConnectToFirst},
		{"first key frame", r.PlayerConnectToKeyframe},
	} {
		fmt.Fprintf(&b, "players: connect→%s p50 %.1f ms, p95 %.1f ms, max %.1f ms (%d of %d)\n",
			l.what, l.l.P50, l.l.P95, l.l.Max, l.l.Count, r.Subscribers)
	}
	fmt.Fprintf(&b, "players: connect→answer p50 %.1f ms, p95 %.1f ms; connect→peer connected p50 %.1f ms, p95 %.1f ms\n",
		r.PlayerConnectToAnswer.P50, r.PlayerConnectToAnswer.P95, r.PlayerConnectToPeerConnected.P50, r.PlayerConnectToPeerConnected.P95)
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	return b.String()
}

// ratio is delivered/expected, 0 when nothing was expected.
func ratio(delivered, expected uint64) float64 {
	if expected == 0 {
		return 0
	}
	return float64(delivered) / float64(expected)
}
