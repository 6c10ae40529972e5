//go:build !js

package wasmclient

import (
	"fmt"

	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264writer"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"

	"github.com/potok-media/potok/internal/codec"
)

// receiver counts what a player receives and probes video key frames for their size.
type receiver struct {
	st         *Stream
	recordPath string

	videoPackets, videoBytes, audioPackets, audioBytes, keyframes, recordErrors atomic.Uint64
	first                                                                       atomic.Bool

	mu          sync.Mutex
	videoCodec  string
	width       int
	height      int
	firstPacket time.Time
	firstKey    time.Time
	lastKeyTS   uint32
	haveKeyTS   bool
}

// rtpWriter is what ivfwriter and h264writer have in common.
type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

// run reads one remote track until the peer connection closes.
func (r *receiver) run(t *webrtc.TrackRemote) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	mime := t.Codec().MimeType
	var rec rtpWriter
	if video {
		r.mu.Lock()
		r.videoCodec = mime
		r.mu.Unlock()
		rec = r.openRecorder(mime)
	}
	buf := make([]byte, 1600)
	var pkt rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			break
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		r.count(video, mime, &pkt)
		if rec != nil && rec.WriteRTP(&pkt) != nil {
			r.recordErrors.Add(1)
		}
	}
	if rec != nil {
		if err := rec.Close(); err != nil {
			r.st.s.log.Warn().Err(err).Str("file", r.recordPath).Msg("closing recording")
		}
	}
}

func (r *receiver) openRecorder(mime string) rtpWriter {
	if r.recordPath == "" {
		return nil
	}
	var (
		w   rtpWriter
		err error
	)
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		w, err = ivfwriter.New(r.recordPath, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		w, err = h264writer.New(r.recordPath)
	default:
		err = fmt.Errorf("no writer for %s", mime)
	}
	if err != nil {
		r.st.s.log.Warn().Err(err).Str("file", r.recordPath).Msg("recording disabled")
		return nil
	}
	return w
}

func (r *receiver) count(video bool, mime string, pkt *rtp.Packet) {
	if r.first.CompareAndSwap(false, true) {
		now := time.Now()
		r.mu.Lock()
		r.firstPacket = now
		r.mu.Unlock()
		r.st.markFirstPacket(now)
	}
	if !video {
		r.audioPackets.Add(1)
		r.audioBytes.Add(uint64(len(pkt.Payload)))
		return
	}
	r.videoPackets.Add(1)
	r.videoBytes.Add(uint64(len(pkt.Payload)))
	key, w, h := probeKeyframe(mime, pkt.Payload)
	if !key {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.haveKeyTS || pkt.Timestamp != r.lastKeyTS {
		// An H.264 key frame is often an SPS/PPS packet plus an IDR start: count it once.
		r.keyframes.Add(1)
		r.lastKeyTS, r.haveKeyTS = pkt.Timestamp, true
		if r.firstKey.IsZero() {
			r.firstKey = time.Now()
		}
	}
	if w > 0 && h > 0 {
		r.width, r.height = w, h
	}
}

// probeKeyframe asks internal/codec whether an RTP payload starts a key frame and its size.
func probeKeyframe(mime string, payload []byte) (key bool, w, h int) {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		w, h, ok := codec.VP8Keyframe(payload)
		return ok, w, h
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		w, h, key, ok := codec.H264Keyframe(payload)
		return ok && key, w, h
	}
	return false, 0, 0
}

func (r *receiver) stats() ReceiveStats {
	r.mu.Lock()
	s := ReceiveStats{VideoCodec: r.videoCodec, Width: r.width, Height: r.height, FirstPacket: r.firstPacket,
		FirstKeyframe: r.firstKey}
	r.mu.Unlock()
	s.VideoPackets, s.VideoBytes = r.videoPackets.Load(), r.videoBytes.Load()
	s.AudioPackets, s.AudioBytes = r.audioPackets.Load(), r.audioBytes.Load()
	s.Keyframes, s.RecordErrors = r.keyframes.Load(), r.recordErrors.Load()
	return s
}
