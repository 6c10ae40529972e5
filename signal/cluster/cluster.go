// Package cluster answers the management REST API for the whole cluster (docs/protocol.md §G):
// whichever signal node a backend asks puts the question to every signal node over NATS and
// merges their answers, so a load balancer may send REST requests anywhere.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
	"github.com/potok-media/potok/internal/logging"
)

// Local is what one signal node answers about its own sessions; *signal.Server implements it.
type Local interface {
	Streams(ctx context.Context, f rest.StreamFilter) []rest.Stream
	TerminateStreams(ctx context.Context, f rest.StreamFilter) int
	Connections(ctx context.Context, f rest.ConnectionFilter) []rest.Connection
	TerminateConnection(ctx context.Context, sessionID string) bool
	SendData(ctx context.Context, d rest.DataSend) bool
	SetClientLog(ctx context.Context, l rest.ClientLog) (bool, error)
	Stats(ctx context.Context) map[string]map[string]any
	Calls(ctx context.Context, f rest.CallFilter) []rest.Call
	TerminateCall(ctx context.Context, callID string) bool
	CallDTMF(ctx context.Context, d rest.CallDTMF) (bool, error)
}

// Peers tells which signal nodes are alive: a gather waits for exactly these.
type Peers interface {
	SignalNodes() []string
}

// Config of a Cluster.
type Config struct {
	NodeID  string
	Timeout time.Duration // longest wait for the other nodes' answers; 0 = 2 s
}

// Cluster serves this node's answers and gathers everyone's.
type Cluster struct {
	cfg   Config
	nc    *nats.Conn
	local Local
	peers Peers
	log   zerolog.Logger
	sub   *nats.Subscription
}

// New subscribes to the cluster's REST questions; Close unsubscribes.
func New(cfg Config, nc *nats.Conn, local Local, peers Peers, log zerolog.Logger) (*Cluster, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	c := &Cluster{cfg: cfg, nc: nc, local: local, peers: peers, log: log}
	sub, err := nc.Subscribe(control.RESTQuerySubject, c.serve)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s: %w", control.RESTQuerySubject, err)
	}
	c.sub = sub
	return c, nil
}

// Close stops answering.
func (c *Cluster) Close() {
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
	}
}

// serve answers one question about this node's sessions, on its own goroutine: a question that
// waits on busy sessions must not hold up the subscription's delivery of the next.
func (c *Cluster) serve(msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
		defer cancel()
		ans := control.RESTAnswer{NodeID: c.cfg.NodeID}
		body, err := c.answer(ctx, msg.Data)
		if err != nil {
			ans.Error = err.Error()
		} else {
			ans.Body = body
		}
		out, _ := json.Marshal(ans)
		if err := msg.Respond(out); err != nil {
			c.log.Debug().Err(err).Msg("REST query answer not sent")
		}
	}()
}

func (c *Cluster) answer(ctx context.Context, data []byte) (json.RawMessage, error) {
	var q control.RESTQuery
	if err := json.Unmarshal(data, &q); err != nil {
		return nil, fmt.Errorf("bad query: %w", err)
	}
	var result any
	switch q.Op {
	case control.QueryFindStreams, control.QueryTerminateStreams:
		var f rest.StreamFilter
		if err := unmarshalBody(q.Body, &f); err != nil {
			return nil, err
		}
		if q.Op == control.QueryFindStreams {
			result = orEmpty(c.local.Streams(ctx, f))
		} else {
			result = c.local.TerminateStreams(ctx, f)
		}
	case control.QueryFindConnections, control.QueryTerminateConn:
		var f rest.ConnectionFilter
		if err := unmarshalBody(q.Body, &f); err != nil {
			return nil, err
		}
		if q.Op == control.QueryFindConnections {
			result = orEmpty(c.local.Connections(ctx, f))
		} else {
			result = c.local.TerminateConnection(ctx, f.SessionID)
		}
	case control.QuerySendData:
		var d rest.DataSend
		if err := unmarshalBody(q.Body, &d); err != nil {
			return nil, err
		}
		result = c.local.SendData(ctx, d)
	case control.QueryClientLog:
		var l rest.ClientLog
		if err := unmarshalBody(q.Body, &l); err != nil {
			return nil, err
		}
		ok, err := c.local.SetClientLog(ctx, l)
		if err != nil {
			return nil, err
		}
		result = ok
	case control.QueryStats:
		result = c.local.Stats(ctx)
	case control.QueryFindCalls, control.QueryTerminateCall:
		var f rest.CallFilter
		if err := unmarshalBody(q.Body, &f); err != nil {
			return nil, err
		}
		if q.Op == control.QueryFindCalls {
			result = orEmpty(c.local.Calls(ctx, f))
		} else {
			result = c.local.TerminateCall(ctx, f.CallID)
		}
	case control.QueryCallDTMF:
		var d rest.CallDTMF
		if err := unmarshalBody(q.Body, &d); err != nil {
			return nil, err
		}
		ok, err := c.local.CallDTMF(ctx, d)
		if err != nil {
			return nil, err
		}
		result = ok
	case control.QueryNodeLog:
		var l rest.NodeLogRequest
		if err := unmarshalBody(q.Body, &l); err != nil {
			return nil, err
		}
		return c.setLogLevel(l)
	default:
		return nil, fmt.Errorf("unknown query %q", q.Op)
	}
	return json.Marshal(result)
}

// setLogLevel sets this node's log level, unless l names another node (answered null).
func (c *Cluster) setLogLevel(l rest.NodeLogRequest) (json.RawMessage, error) {
	if l.NodeID != "" && l.NodeID != c.cfg.NodeID {
		return json.RawMessage("null"), nil
	}
	level, err := logging.SetLevel(l.LogLevel)
	if err != nil {
		return nil, err
	}
	c.log.Info().Str("logLevel", level).Msg("log level set")
	return json.Marshal(rest.NodeLogLevel{NodeID: c.cfg.NodeID, Tier: control.KindSignal, LogLevel: level})
}

func unmarshalBody(body json.RawMessage, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("bad query body: %w", err)
	}
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// errNoAnswer: not one node answered, this one included (NATS is down).
var errNoAnswer = fmt.Errorf("no signal node answered: the control plane is unavailable: %w", rest.ErrUnavailable)

// gather puts a question to every signal node and returns the answers that came before the
// timeout: it returns early once every live node (Peers) has answered. A node that did not answer
// in time is logged and left out; the answer is partial rather than late.
func (c *Cluster) gather(ctx context.Context, op string, body any) ([]control.RESTAnswer, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode %s: %w", op, err)
	}
	q, _ := json.Marshal(control.RESTQuery{Op: op, Body: raw})
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", op, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.PublishRequest(control.RESTQuerySubject, inbox, q); err != nil {
		return nil, fmt.Errorf("cluster: %s: %w: %w", op, errNoAnswer, err)
	}
	waiting := map[string]bool{c.cfg.NodeID: true}
	for _, id := range c.peers.SignalNodes() {
		waiting[id] = true
	}
	var answers []control.RESTAnswer
	for len(waiting) > 0 {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			break // the timeout: go with what came
		}
		var a control.RESTAnswer
		if json.Unmarshal(msg.Data, &a) != nil {
			continue
		}
		delete(waiting, a.NodeID)
		answers = append(answers, a)
	}
	if len(waiting) > 0 {
		c.log.Warn().Str("op", op).Int("answered", len(answers)).Int("missing", len(waiting)).
			Msg("REST query: some signal nodes did not answer in time")
	}
	if len(answers) == 0 {
		return nil, fmt.Errorf("cluster: %s: %w", op, errNoAnswer)
	}
	return answers, nil
}

// each decodes every node's answer into a fresh T and hands it to fn; a node's error is logged.
func each[T any](c *Cluster, op string, answers []control.RESTAnswer, fn func(T)) {
	for _, a := range answers {
		if a.Error != "" {
			c.log.Warn().Str("op", op).Str("signalNode", a.NodeID).Str("error", a.Error).Msg("REST query failed on a node")
			continue
		}
		var v T
		if err := json.Unmarshal(a.Body, &v); err != nil {
			c.log.Warn().Err(err).Str("op", op).Str("signalNode", a.NodeID).Msg("REST answer undecodable")
			continue
		}
		fn(v)
	}
}
