package control

// OpLogLevel sets a media daemon's log level at run time (the REST API's
// /logger/set_node_log_level): LogLevelRequest → LogLevelReply.
const OpLogLevel = "logLevel"

// LogLevelRequest names the level: trace, debug, info, warn or error, in any case.
type LogLevelRequest struct {
	Level string `json:"level"`
}

// LogLevelReply is the daemon's level now, or why the request was refused.
type LogLevelReply struct {
	NodeID string `json:"nodeId"`
	Level  string `json:"level,omitempty"`
	Error  string `json:"error,omitempty"`
}
