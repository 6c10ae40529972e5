package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/signal/mediactl"
)

// Pulls (docs/protocol.md §G.2, /pull/*): a media daemon plays a stream of another Potok or WCS
// server over the WCS protocol and publishes it here; this node claims the local name and owns
// the pull (signal/mediactl/pulls.go).

// Pull is /pull/pull: the local name in use is a 409.
func (b *Backend) Pull(ctx context.Context, a rest.PullAgent) error {
	if err := checkPullURI(a.URI); err != nil {
		return err
	}
	if a.RemoteStreamName == "" || a.LocalStreamName == "" {
		return fmt.Errorf("remoteStreamName and localStreamName are required: %w", rest.ErrInvalid)
	}
	err := b.media.Pull(ctx, a.URI, a.RemoteStreamName, a.LocalStreamName)
	switch {
	case errors.Is(err, mediactl.ErrNameInUse):
		return fmt.Errorf("stream %q is already published: %w", a.LocalStreamName, rest.ErrConflict)
	case errors.Is(err, mediactl.ErrNoMediaNode), errors.Is(err, mediactl.ErrControlPlaneDown):
		return fmt.Errorf("pull %q: %w: %w", a.RemoteStreamName, rest.ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("pull %q from %s: %w", a.RemoteStreamName, a.URI, err)
	}
	return nil
}

// checkPullURI accepts the WebSocket URLs a WebSDK client would connect to.
func checkPullURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("uri %q is not a ws:// or wss:// URL: %w", raw, rest.ErrInvalid)
	}
	return nil
}

// Pulls is /pull/find_all: every pull of the cluster, by local name; none is an empty list.
func (b *Backend) Pulls(ctx context.Context) ([]rest.PullAgent, error) {
	out := []rest.PullAgent{}
	for _, p := range b.media.Pulls(ctx) {
		out = append(out, rest.PullAgent{URI: p.URI, LocalMediaSessionID: p.MediaSessionID,
			RemoteMediaSessionID: p.RemoteMediaSessionID, LocalStreamName: p.LocalStreamName,
			RemoteStreamName: p.RemoteStreamName, Status: p.Status})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LocalStreamName < out[j].LocalStreamName })
	return out, nil
}

// TerminatePull is /pull/terminate: the pull is named by its localStreamName, or by its
// localMediaSessionId; an unknown one is a 404.
func (b *Backend) TerminatePull(ctx context.Context, a rest.PullAgent) error {
	name := a.LocalStreamName
	if name == "" && a.LocalMediaSessionID != "" {
		for _, p := range b.media.Pulls(ctx) {
			if p.MediaSessionID == a.LocalMediaSessionID {
				name = p.LocalStreamName
			}
		}
		if name == "" {
			return fmt.Errorf("no pull %q: %w", a.LocalMediaSessionID, rest.ErrNotFound)
		}
	}
	if name == "" {
		return fmt.Errorf("localStreamName or localMediaSessionId is required: %w", rest.ErrInvalid)
	}
	err := b.media.TerminatePull(ctx, name)
	switch {
	case errors.Is(err, mediactl.ErrNotPulled):
		return fmt.Errorf("no pull publishes %q: %w", name, rest.ErrNotFound)
	case errors.Is(err, mediactl.ErrControlPlaneDown):
		return fmt.Errorf("terminate the pull of %q: %w: %w", name, rest.ErrUnavailable, err)
	case err != nil:
		return fmt.Errorf("terminate the pull of %q: %w", name, err)
	}
	return nil
}
