package cluster

import (
	"context"
	"fmt"
	"sort"

	"github.com/potok-media/potok/api/control"
	"github.com/potok-media/potok/api/rest"
)

// FindCalls is /call/find and /call/find_all: every node's matching SIP calls, by call id; none is
// a 404, as WCS.
func (b *Backend) FindCalls(ctx context.Context, f rest.CallFilter) ([]rest.Call, error) {
	answers, err := b.gather(ctx, control.QueryFindCalls, f)
	if err != nil {
		return nil, err
	}
	var out []rest.Call
	each(b.Cluster, control.QueryFindCalls, answers, func(c []rest.Call) { out = append(out, c...) })
	if len(out) == 0 {
		return nil, fmt.Errorf("no call matches: %w", rest.ErrNotFound)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CallID < out[j].CallID })
	return out, nil
}

// TerminateCall is /call/terminate: the call is hung up wherever it is.
func (b *Backend) TerminateCall(ctx context.Context, callID string) error {
	return b.onCall(ctx, control.QueryTerminateCall, callID, rest.CallFilter{CallID: callID})
}

// SendCallDTMF is /call/send_dtmf.
func (b *Backend) SendCallDTMF(ctx context.Context, d rest.CallDTMF) error {
	return b.onCall(ctx, control.QueryCallDTMF, d.CallID, d)
}

// onCall runs an operation on whichever node has callID; none having it is a 404, a node that
// has it but could not carry it out a 400 with its reason.
func (b *Backend) onCall(ctx context.Context, op, callID string, body any) error {
	if callID == "" {
		return fmt.Errorf("callId is required: %w", rest.ErrInvalid)
	}
	answers, err := b.gather(ctx, op, body)
	if err != nil {
		return err
	}
	for _, a := range answers {
		if a.Error != "" {
			return fmt.Errorf("call %s on %s: %s: %w", callID, a.NodeID, a.Error, rest.ErrInvalid)
		}
	}
	done := false
	each(b.Cluster, op, answers, func(ok bool) { done = done || ok })
	if !done {
		return fmt.Errorf("no call %q: %w", callID, rest.ErrNotFound)
	}
	return nil
}
