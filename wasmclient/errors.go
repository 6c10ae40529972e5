package wasmclient

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrClosed is returned by operations on a session that is closed or lost.
	ErrClosed = errors.New("wasmclient: session closed")
	// ErrRejected is wrapped when the server answers connection with fail (docs/protocol.md §E.1b).
	ErrRejected = errors.New("wasmclient: connection rejected")
	// ErrNotEstablished is returned when the socket closes before getUserData.
	ErrNotEstablished = errors.New("wasmclient: session not established")
	// ErrBadOptions is wrapped for invalid publish/play/session options.
	ErrBadOptions = errors.New("wasmclient: bad options")
)

// StatusError reports that a stream reached a terminal status other than the one waited for.
type StatusError struct {
	Status string // terminal status: FAILED, STOPPED or UNPUBLISHED
	Info   string // the server's (or local) reason, docs/protocol.md §D.4
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("wasmclient: stream ended with %s (%s)", e.Status, e.Info)
}
