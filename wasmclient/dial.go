//go:build !js

package wasmclient

import (
	"context"

	"github.com/coder/websocket"
)

// dial opens the signalling WebSocket with the configured upgrade headers.
func dial(ctx context.Context, rawURL string, o SessionOptions) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: o.Header})
	return conn, err
}
