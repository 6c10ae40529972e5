package wasmclient

import "time"

// SessionTimeline records when the connection steps happened (zero when not reached).
type SessionTimeline struct {
	ConnectStart time.Time // Connect called
	SocketOpen   time.Time // WebSocket upgrade done (client status CONNECTED)
	Established  time.Time // getUserData received (ESTABLISHED)
	Closed       time.Time
}

// StreamTimeline records a stream's steps for time-to-first-frame figures.
type StreamTimeline struct {
	Requested   time.Time // publishStream/playStream sent
	RemoteSDP   time.Time // setRemoteSDP applied
	Connected   time.Time // peer connection reached "connected"
	Active      time.Time // PUBLISHING or PLAYING received
	FirstPacket time.Time // players: first RTP packet received; publishers: first RTP packet sent
	Ended       time.Time // terminal status
}
