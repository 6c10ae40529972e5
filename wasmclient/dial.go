//go:build !js

package wasmclient

import (
	"context"

	"github.com/coder/websocket"
)

// dial opens the signalling WebSocket with the configured upgrade headers and HTTP client.
func dial(ctx context.Context, rawURL string, o SessionOptions) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: o.Header, HTTPClient: o.HTTPClient})
	return conn, err
}
