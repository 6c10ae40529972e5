package mediactl

import (
	"context"
	"fmt"

	"github.com/potok-media/potok/api/control"
)

// Call opens a SIP call's media on node (api/control call.go).
func (c *Client) Call(ctx context.Context, node string, req control.CallRequest) (control.CallReply, error) {
	var rep control.CallReply
	err := c.rpc(ctx, node, control.OpCall, req, &rep)
	return rep, err
}

// CallAnswer completes a call's negotiation on node.
func (c *Client) CallAnswer(ctx context.Context, node string, req control.CallAnswerRequest) (control.CallAnswerReply, error) {
	var rep control.CallAnswerReply
	err := c.rpc(ctx, node, control.OpCallAnswer, req, &rep)
	return rep, err
}

// CallHold stops or resumes the relay between a call's legs on node, and returns the SDP of the
// re-INVITE or of its answer.
func (c *Client) CallHold(ctx context.Context, node string, req control.CallHoldRequest) (control.CallHoldReply, error) {
	var rep control.CallHoldReply
	if err := c.rpc(ctx, node, control.OpCallHold, req, &rep); err != nil {
		return rep, err
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("mediactl: hold %s at %s: %s", req.MediaSessionID, node, rep.Error)
	}
	return rep, nil
}

// CallDTMF sends a DTMF symbol as RFC 4733 events from node's RTP leg of a call.
func (c *Client) CallDTMF(ctx context.Context, node string, req control.CallDTMFRequest) error {
	var rep control.StopReply
	if err := c.rpc(ctx, node, control.OpCallDTMF, req, &rep); err != nil {
		return err
	}
	if rep.Error != "" {
		return fmt.Errorf("mediactl: DTMF on %s at %s: %s", req.MediaSessionID, node, rep.Error)
	}
	return nil
}
