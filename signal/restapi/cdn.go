package restapi

import (
	"context"
	"fmt"

	"github.com/potok-media/potok/api/rest"
)

// CDN endpoints: the relays between media daemons (docs/protocol.md §G.2). WCS's CDN routes a
// stream from origin to edge servers; Potok's media daemons do the same inside one cluster.

// cdnShowRoutes answers {"<routeId>": "<streamName>", …}, WCS's shape: the route id is
// origin-edge-n (n counts the edge's relays from 1).
func cdnShowRoutes(ctx context.Context, b Backend, _ []byte) (any, error) {
	routes, err := b.Routes(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	n := map[string]int{}
	for _, r := range routes {
		n[r.Edge]++
		out[fmt.Sprintf("%s-%s-%d", r.Origin, r.Edge, n[r.Edge])] = r.StreamName
	}
	return out, nil
}

// cdnStreamShowRoutes answers where one stream comes from and which daemons relay it; 404 when
// nobody relays it.
func cdnStreamShowRoutes(ctx context.Context, b Backend, body []byte) (any, error) {
	f, err := parseFields(body)
	if err != nil {
		return nil, err
	}
	req := rest.StreamName{StreamName: f.required("streamName")}
	if f.err != nil {
		return nil, f.err
	}
	routes, err := b.Routes(ctx)
	if err != nil {
		return nil, err
	}
	out := rest.StreamRoutes{StreamName: req.StreamName, Relays: []rest.EdgeRoute{}}
	for _, r := range routes {
		if r.StreamName == req.StreamName {
			out.Origin = r.Origin
			out.Relays = append(out.Relays, rest.EdgeRoute{Node: r.Edge, Players: r.Players})
		}
	}
	if len(out.Relays) == 0 {
		return nil, fmt.Errorf("no relay of stream %q: %w", req.StreamName, rest.ErrNotFound)
	}
	return out, nil
}
