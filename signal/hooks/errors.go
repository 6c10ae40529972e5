package hooks

import "errors"

// Errors of the package. A Result's Err wraps one of them or the transport's own error.
var (
	// ErrBadConfig marks a restClientConfig entry that was ignored (ParseConfig).
	ErrBadConfig = errors.New("hooks: bad restClientConfig")
	// ErrBadObject is a frame StripClient could not read as a JSON object.
	ErrBadObject = errors.New("hooks: bad JSON object")
	// ErrResponseTooLarge is a backend answer over MaxResponseBytes.
	ErrResponseTooLarge = errors.New("hooks: backend response too large")
	// ErrStatus is an answer other than 200: the backend refused.
	ErrStatus = errors.New("hooks: backend answered an error status")
	// ErrTimeout is an attempt that got no answer within Options.Timeout.
	ErrTimeout = errors.New("hooks: backend timeout")
	// ErrEncode is a request body encoding/json could not encode.
	ErrEncode = errors.New("hooks: request body cannot be encoded")
)
