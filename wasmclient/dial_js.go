//go:build js

package wasmclient

import (
	"context"

	"github.com/coder/websocket"
)

// dial opens the browser's WebSocket; the browser sets Origin itself and allows no other
// upgrade headers, so SessionOptions.Header is ignored here.
func dial(ctx context.Context, rawURL string, _ SessionOptions) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, rawURL, nil)
	return conn, err
}
