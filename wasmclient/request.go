package wasmclient

import "encoding/json"

// streamRequest is publishStream / playStream as the WebSDK's createStream sends it (docs/protocol.md
// §B.4, §B.5). It mirrors wcs.StreamRequest, but optional fields the SDK leaves undefined are
// omitted, since JSON.stringify drops them (§A.3).
type streamRequest struct {
	MediaSessionID string          `json:"mediaSessionId"`
	Name           string          `json:"name"`
	Published      bool            `json:"published"`
	HasVideo       bool            `json:"hasVideo"`
	HasAudio       bool            `json:"hasAudio"`
	Status         string          `json:"status"`
	Record         bool            `json:"record"`
	Width          *int            `json:"width,omitempty"`
	Height         *int            `json:"height,omitempty"`
	MediaProvider  string          `json:"mediaProvider"`
	SDP            string          `json:"sdp"`
	Custom         json.RawMessage `json:"custom,omitempty"`
	Bitrate        int             `json:"bitrate"`
	MinBitrate     int             `json:"minBitrate"`
	MaxBitrate     int             `json:"maxBitrate"`
	Quality        *int            `json:"quality,omitempty"`
	Transport      string          `json:"transport,omitempty"`
}

// stopRequest is unPublishStream / stopStream (§B.6, §B.7): hasVideo/hasAudio are hard-coded
// true and record false in the SDK.
type stopRequest struct {
	MediaSessionID string `json:"mediaSessionId"`
	Name           string `json:"name"`
	Published      bool   `json:"published"`
	HasVideo       bool   `json:"hasVideo"`
	HasAudio       bool   `json:"hasAudio"`
	Status         string `json:"status"`
	Record         bool   `json:"record"`
}
