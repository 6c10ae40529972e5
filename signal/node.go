package signal

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/bus"
	"github.com/potok-media/potok/signal/apps"
	"github.com/potok-media/potok/signal/hooks"
	"github.com/potok-media/potok/signal/restapi"
	"github.com/potok-media/potok/signal/sipua"
)

// NodeConfig is a whole signal node: the WebSocket server with the application registry, the
// REST hooks to the applications' backends and the management REST API (docs/protocol.md §F,
// §G).
type NodeConfig struct {
	Signal Config
	Hooks  hooks.Options // NodeID is the signal node's
	Apps   []rest.App    // put into the registry when absent (signal/apps)
	// SIP starts the node's SIP user agent when SIP.Listen is set (signal/sipua); its Logger is
	// the node's.
	SIP sipua.Config
}

// Node is a running signal node; Shutdown stops it.
type Node struct {
	*Server
	apps  *apps.Registry
	hooks *hooks.Client
	sip   *sipua.Agent // nil: no SIP
}

// StartNode opens the application registry and starts the server on link.
func StartNode(ctx context.Context, cfg NodeConfig, link *bus.Link, log zerolog.Logger) (*Node, error) {
	if cfg.Signal.NodeID == "" {
		cfg.Signal.NodeID = "signal-" + uuid.NewString()[:8]
	}
	reg, err := apps.Open(ctx, link, cfg.Signal.Directory, cfg.Apps, log)
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	cfg.Hooks.NodeID = cfg.Signal.NodeID
	hc, err := hooks.New(cfg.Hooks, cfg.Signal.Registerer, log)
	if err != nil {
		reg.Close()
		return nil, fmt.Errorf("signal: %w", err)
	}
	cfg.Signal.Hooks, cfg.Signal.Apps = hc, reg
	var agent *sipua.Agent
	if cfg.SIP.Listen != "" {
		cfg.SIP.Logger = log.With().Str("component", "sip").Logger()
		cfg.SIP.Registerer = cfg.Signal.Registerer
		if agent, err = sipua.Start(cfg.SIP); err != nil {
			reg.Close()
			return nil, fmt.Errorf("signal: %w", err)
		}
		cfg.Signal.SIP = agent
	}
	s, err := New(ctx, cfg.Signal, link, log)
	if err != nil {
		reg.Close()
		if agent != nil {
			agent.Close()
		}
		return nil, err
	}
	return &Node{Server: s, apps: reg, hooks: hc, sip: agent}, nil
}

// SIPAddr is the node's SIP address (host:port), "" without SIP.
func (n *Node) SIPAddr() string {
	if n.sip == nil {
		return ""
	}
	return n.sip.Addr()
}

// RegisterREST serves the management REST API of the cluster on mux, answered by this node.
func (n *Node) RegisterREST(mux *http.ServeMux, opts restapi.Options) error {
	opts.Backend = n.RESTBackend()
	return restapi.Register(mux, opts)
}

// Shutdown ends every session (see Server.Shutdown), then stops following the registry.
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.Server.Shutdown(ctx)
	if n.sip != nil {
		n.sip.Close() // after the sessions: they hung up their calls and unregistered
	}
	n.apps.Close()
	n.hooks.CloseIdleConnections()
	return err
}
