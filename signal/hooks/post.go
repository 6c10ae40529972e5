package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/potok-media/potok/api/rest"
)

// retryBackoff is the wait before the n-th resend, n×retryBackoff: long enough for a backend
// being restarted to start listening, short enough not to hold a connect for long.
const retryBackoff = 100 * time.Millisecond

// post sends payload to app's method, resending after send failures (Options.Retries), and
// returns the result and its outcome label.
func (c *Client) post(ctx context.Context, app rest.App, method string, payload []byte) (Result, string) {
	target := strings.TrimRight(app.URL, "/") + "/" + url.PathEscape(method)
	for attempt := 1; ; attempt++ {
		res, outcome, retry := c.attempt(ctx, app, target, payload)
		if !retry || attempt > c.opts.Retries {
			if retry && attempt > 1 {
				res.Err = fmt.Errorf("after %d attempts: %w", attempt, res.Err)
			}
			return res, outcome
		}
		t := time.NewTimer(time.Duration(attempt) * retryBackoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			res.Err = fmt.Errorf("%w (retry abandoned: %w)", res.Err, context.Cause(ctx))
			return res, outcome
		}
	}
}

// attempt sends payload once. retry is true for a send failure: no answer and neither a timeout
// nor ctx ended. That includes a connection reset after the request was written, so a backend
// that drops connections after reading them may see a hook twice; WCS retries the same way.
func (c *Client) attempt(ctx context.Context, app rest.App, target string, payload []byte) (res Result, outcome string, retry bool) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.opts.Timeout > 0 {
		actx, cancel = context.WithTimeoutCause(ctx, c.opts.Timeout, ErrTimeout)
	}
	defer cancel()
	res.Called = true
	req, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		res.Info, res.Err = InfoBadRequest, fmt.Errorf("hooks: request to %q: %w", app.URL, err)
		return res, OutcomeError, false
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	// Both the signature and Basic auth would use Authorization. The signature is what the node
	// operator configured for every backend and proves the body; a backend that wants both
	// checks the signature. So with a secret key, Basic credentials of the app are not sent.
	switch {
	case c.opts.SecretKey != "":
		req.Header.Set("Authorization", "WCS "+sign(payload, c.opts.SecretKey))
	case app.RestUsername != "":
		req.SetBasicAuth(app.RestUsername, app.RestPassword)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failure(ctx, actx, res, err)
	}
	defer resp.Body.Close()
	res, outcome = c.answer(ctx, actx, res, resp)
	return res, outcome, false
}

// answer reads and classifies the backend's answer, at most MaxResponseBytes of it.
func (c *Client) answer(ctx, actx context.Context, res Result, resp *http.Response) (Result, string) {
	res.Status = resp.StatusCode
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	switch {
	case err == nil && len(data) > MaxResponseBytes:
		err = fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, MaxResponseBytes)
		data = nil
	case err != nil && errors.Is(context.Cause(actx), ErrTimeout) && ctx.Err() == nil:
		res.Info, res.Err = InfoTimeout, fmt.Errorf("%w: %s reading the answer", ErrTimeout, c.opts.Timeout)
		return res, OutcomeTimeout
	case err != nil:
		err = fmt.Errorf("hooks: reading the answer: %w", err)
		data = nil
	}
	info, fields := decodeResponse(resp.StatusCode, data)
	if resp.StatusCode != http.StatusOK {
		// A refusal stays a refusal even when its body could not be read.
		res.Info, res.Body = info, fields
		res.Err = fmt.Errorf("%w: %d %s", ErrStatus, resp.StatusCode, info)
		return res, OutcomeRefused
	}
	if err != nil {
		res.Info, res.Err = InfoBadResponse, err
		return res, OutcomeError
	}
	res.Info, res.Body = info, fields
	return res, OutcomeOK
}

// failure classifies a request that got no answer.
func (c *Client) failure(ctx, actx context.Context, res Result, err error) (Result, string, bool) {
	switch {
	case ctx.Err() != nil:
		res.Info, res.Err = InfoUnavailable, fmt.Errorf("hooks: abandoned: %w", context.Cause(ctx))
		return res, OutcomeError, false
	case errors.Is(context.Cause(actx), ErrTimeout):
		res.Info, res.Err = InfoTimeout, fmt.Errorf("%w: no answer within %s", ErrTimeout, c.opts.Timeout)
		return res, OutcomeTimeout, false
	default:
		res.Info, res.Err = InfoUnavailable, fmt.Errorf("hooks: send: %w", err)
		return res, OutcomeError, true
	}
}
