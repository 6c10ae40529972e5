package cluster

import (
	"context"
	"fmt"
	"sort"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/logging"
)

// SetNodeLogLevel is /logger/set_node_log_level, a Potok extension (docs/protocol.md §G.2): the
// log level of every node of the cluster, signal and media alike, or of the one req names. It
// answers each node's level now, by tier then node id; a node that did not answer in time is left
// out, as in every gathered answer.
func (b *Backend) SetNodeLogLevel(ctx context.Context, req rest.NodeLogRequest) ([]rest.NodeLogLevel, error) {
	if _, err := logging.ParseLevel(req.LogLevel); err != nil {
		return nil, fmt.Errorf("logLevel: %w: %w", err, rest.ErrInvalid)
	}
	answers, err := b.gather(ctx, control.QueryNodeLog, req)
	if err != nil {
		return nil, err
	}
	out := []rest.NodeLogLevel{}
	each(b.Cluster, control.QueryNodeLog, answers, func(l *rest.NodeLogLevel) {
		if l != nil {
			out = append(out, *l)
		}
	})
	for _, r := range b.media.SetLogLevel(ctx, req.LogLevel, req.NodeID) {
		if r.Error != "" {
			return nil, fmt.Errorf("media node %s: %s", r.NodeID, r.Error)
		}
		out = append(out, rest.NodeLogLevel{NodeID: r.NodeID, Tier: control.KindMediad, LogLevel: r.Level})
	}
	if len(out) == 0 && req.NodeID != "" {
		return nil, fmt.Errorf("no live node %q: %w", req.NodeID, rest.ErrNotFound)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tier != out[j].Tier {
			return out[i].Tier > out[j].Tier // signal before mediad
		}
		return out[i].NodeID < out[j].NodeID
	})
	return out, nil
}
