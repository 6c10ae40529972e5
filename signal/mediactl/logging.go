package mediactl

import (
	"context"

	"github.com/potok-media/potok/api/control"
)

// SetLogLevel sets the log level of every live media daemon, or only of node when it is not "",
// and returns the answers that came within ctx (the REST API's /logger/set_node_log_level). A
// daemon that refused the level answers with Error set.
func (c *Client) SetLogLevel(ctx context.Context, level, node string) []control.LogLevelReply {
	return askMediadsWith[control.LogLevelReply](ctx, c, control.OpLogLevel, control.LogLevelRequest{Level: level}, node)
}
