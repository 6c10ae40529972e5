package mediad

import (
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/internal/logging"
)

// handleLogLevel sets the daemon's log level, which is the process's (the REST API's
// /logger/set_node_log_level).
func (d *Daemon) handleLogLevel(m *nats.Msg) any {
	var req control.LogLevelRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		return control.LogLevelReply{NodeID: d.cfg.NodeID, Error: "bad request: " + err.Error()}
	}
	level, err := logging.SetLevel(req.Level)
	if err != nil {
		return control.LogLevelReply{NodeID: d.cfg.NodeID, Error: err.Error()}
	}
	d.log.Info().Str("logLevel", level).Msg("log level set")
	return control.LogLevelReply{NodeID: d.cfg.NodeID, Level: level}
}
