package session

import (
	"encoding/json"
	"fmt"

	"github.com/potok-media/potok/api/wcs"
	"github.com/potok-media/potok/signal/metrics"
	"github.com/potok-media/potok/signal/wsconn"
)

// tooLargeAnswers answers a frame too large to be read by the stream its head names, so that what
// the client waits for does not hang: a stream left PENDING makes the SDK's stop() spin forever
// (docs/protocol.md §0 rule 10), an available() or snapshot() promise never settles. An answer
// reports false when the head names nothing it can answer for; the frame then gets the generic fail.
// sendStreamEvent is not here on purpose: a data event too large for its stream is refused like one
// above the payload limit (§B.10), and the stream goes on.
var tooLargeAnswers = map[string]func(*Session, wcs.Head, string) bool{
	wcs.MsgPublishStream:   func(s *Session, h wcs.Head, info string) bool { return s.failNew(h, true, info) },
	wcs.MsgPlayStream:      func(s *Session, h wcs.Head, info string) bool { return s.failNew(h, false, info) },
	wcs.MsgUnPublishStream: (*Session).failLive,
	wcs.MsgStopStream:      (*Session).failLive,
	wcs.MsgAvailableStream: (*Session).notAvailable,
	wcs.MsgSnapshot:        (*Session).snapshotFailed,
}

// handleTooLarge answers a frame above the size limit, which was dropped but for its head
// (wsconn.TooLarge). The WebSDK writes the message name, the stream's mediaSessionId and its name
// before the SDP, so the head tells which stream the frame was about (wcs.PeekHead); that stream
// gets its FAILED, any other frame the generic fail. The session is kept either way (the transport
// closes the socket after a frame above the hard limit).
func (s *Session) handleTooLarge(f wsconn.TooLarge) {
	s.m.Error(metrics.ReasonFrameTooLarge)
	h := wcs.PeekHead(f.Head)
	s.log.Warn().Int("bytes", f.Bytes).Int("limit", f.Limit).Bool("closing", f.Closing).Str("message", h.Message).
		Str("mediaSessionId", h.MediaSessionID).Msg("frame too large, dropped")
	info := frameTooLargeInfo(f)
	if answer := tooLargeAnswers[h.Message]; answer != nil && h.MediaSessionID != "" && answer(s, h, info) {
		return
	}
	s.sendFail("", info)
}

// frameTooLargeInfo is the info of every answer to a frame too large: its size, or past the hard
// limit, where it was not read to its end, the size it was known to exceed.
func frameTooLargeInfo(f wsconn.TooLarge) string {
	if f.Closing {
		return fmt.Sprintf("Frame too large: over %d bytes, limit %d", f.Bytes-1, f.Limit)
	}
	return fmt.Sprintf("Frame too large: %d bytes, limit %d", f.Bytes, f.Limit)
}

// failNew fails the stream a publishStream or playStream was to create, unless its id is one of
// this session's live streams: that one is not the frame's to end.
func (s *Session) failNew(h wcs.Head, publish bool, info string) bool {
	if s.streams[h.MediaSessionID] != nil {
		return false
	}
	req := wcs.StreamRequest{MediaSessionID: wcs.String(h.MediaSessionID), Name: wcs.String(h.Name)}
	if len(req.Name) > wcs.MaxStreamNameBytes {
		req.Name = ""
	}
	s.rejected(&req, publish, info)
	return true
}

// failLive ends the live stream an unPublishStream or stopStream named: the client has already
// closed its side and waits for a terminal status (§0 rule 9), so the stream is stopped here and
// gets FAILED, the frame having been refused.
func (s *Session) failLive(h wcs.Head, info string) bool {
	ms := s.streams[h.MediaSessionID]
	if ms == nil {
		return false
	}
	s.terminate(ms, wcs.StatusFailed, info, true)
	return true
}

// notAvailable settles an availableStream: "false" with the reason (§C.10).
func (s *Session) notAvailable(h wcs.Head, info string) bool {
	s.send(wcs.MsgAvailableStream, wcs.AvailableStream{ID: h.MediaSessionID, Status: "false", Info: info})
	return true
}

// snapshotFailed settles a snapshot request (§C.9).
func (s *Session) snapshotFailed(h wcs.Head, info string) bool {
	payload, _ := json.Marshal(map[string]string{"info": info}) // a map of strings always encodes
	s.send(wcs.MsgNotifyStreamEvent, wcs.StreamEvent{MediaSessionID: h.MediaSessionID, Type: "snapshotFailed",
		Payload: payload})
	return true
}
