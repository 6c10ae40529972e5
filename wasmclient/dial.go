//go:build !js

package wasmclient

import (
	"context"
	"net/http"

	"github.com/coder/websocket"

	"github.com/potok-media/potok/api/wcs"
)

// Header is the upgrade request's header (SessionOptions.Header).
type Header = http.Header

// HTTPClient makes the upgrade request (SessionOptions.HTTPClient).
type HTTPClient = http.Client

// wsSocket is the native signalling socket (coder/websocket).
type wsSocket struct{ c *websocket.Conn }

// dial opens the signalling WebSocket with the configured upgrade headers and HTTP client.
func dial(ctx context.Context, rawURL string, o SessionOptions) (socket, error) {
	conn, _, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPHeader: o.Header, HTTPClient: o.HTTPClient})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(wcs.MaxFrameBytes)
	return wsSocket{conn}, nil
}

func (w wsSocket) read(ctx context.Context) ([]byte, error) {
	for {
		typ, frame, err := w.c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil, errNormalClosure
			}
			return nil, err
		}
		if typ == websocket.MessageText { // the server must not send binary on the signalling socket (§A.4)
			return frame, nil
		}
	}
}

func (w wsSocket) write(ctx context.Context, frame []byte) error {
	return w.c.Write(ctx, websocket.MessageText, frame)
}

func (w wsSocket) close() error { return w.c.Close(websocket.StatusNormalClosure, "") }

func (w wsSocket) closeNow() error { return w.c.CloseNow() }
