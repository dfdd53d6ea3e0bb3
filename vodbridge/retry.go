package vodbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/alibabacloud-go/tea/dara"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// attemptFunc performs one SDK call with ctx bounding the attempt.
type attemptFunc func(ctx context.Context, sdk *vod.Client, rt *dara.RuntimeOptions) error

// call runs fn up to MaxAttempts times. Each attempt gets its own SDK client
// and a ctx limited to cfg.Timeout; the caller's ctx bounds the whole call,
// including backoff sleeps, and is checked before every attempt. The SDK's
// own retry (RetryOptions) stays off: it sleeps without watching ctx and
// knows nothing about idempotency.
//
// idempotent tells whether the action may be repeated after an ambiguous
// failure (a timeout or a connection lost after the request was written).
// Create* are not idempotent: a lost answer may hide a created media, and a
// retry would create a second one (see [shouldRetry]).
//
// The returned error is prefixed "vodbridge: <op>" and wraps an *APIError
// (VOD answered), the ctx error, or the transport error.
func (c *Client) call(ctx context.Context, op string, idempotent bool, fn attemptFunc) error {
	if c.tracer == nil {
		return c.retry(ctx, op, idempotent, fn)
	}
	ctx, span := c.tracer.Start(ctx, "vod "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "aliyun-vod"), attribute.String("rpc.method", op),
			attribute.String("server.address", c.endpoint)))
	err := c.retry(ctx, op, idempotent, fn)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			span.SetAttributes(attribute.String("vod.error_code", apiErr.Code), attribute.String("vod.request_id", apiErr.RequestID))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return err
}

// retry is call without the span.
func (c *Client) retry(ctx context.Context, op string, idempotent bool, fn attemptFunc) error {
	var err error
	attempts := 0
	for attempts < c.cfg.MaxAttempts {
		if attempts > 0 {
			d := c.backoff(attempts)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "VODRetry", slog.String("op", op),
				slog.Int("attempt", attempts+1), slog.Duration("delay", d), slog.String("error", err.Error()))
			trace.SpanFromContext(ctx).AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", attempts+1),
				attribute.String("error", err.Error())))
			if werr := sleep(ctx, d); werr != nil {
				return fmt.Errorf("vodbridge: %s: %w (while backing off after: %w)", op, werr, err)
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				return fmt.Errorf("vodbridge: %s: %w", op, context.Cause(ctx))
			}
			return fmt.Errorf("vodbridge: %s: %w (after: %w)", op, context.Cause(ctx), err)
		}
		if q := c.cfg.Quota; q != nil {
			if qerr := q.Wait(ctx, op); qerr != nil {
				return fmt.Errorf("vodbridge: %s: %w: %w", op, ErrThrottled, qerr)
			}
		}
		attempts++
		start := time.Now()
		err = c.attempt(ctx, op, fn)
		if q := c.cfg.Quota; q != nil && errors.Is(err, ErrThrottled) {
			q.Throttled(ctx, op)
		}
		if err == nil {
			if c.logger.Enabled(ctx, slog.LevelDebug) {
				c.logger.LogAttrs(ctx, slog.LevelDebug, "VODCall", slog.String("op", op),
					slog.Int("attempt", attempts), slog.Duration("took", time.Since(start)))
			}
			return nil
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			apiErr.Attempts = attempts
		}
		if ctx.Err() != nil || !shouldRetry(err, idempotent) {
			break
		}
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	if attempts > 1 {
		return fmt.Errorf("vodbridge: %s failed after %d attempts: %w", op, attempts, err)
	}
	return fmt.Errorf("vodbridge: %s: %w", op, err)
}

// attempt runs one attempt with the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, op string, fn attemptFunc) error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	sdk, _ := c.sdks.Get().(*vod.Client)
	if sdk == nil {
		var err error
		if sdk, err = c.sdk(); err != nil {
			return fmt.Errorf("init vod sdk: %w", err)
		}
	}
	defer c.sdks.Put(sdk)
	// The runtime options must be non-nil (the SDK dereferences them); zero
	// values defer to the client config. No SDK-level retries.
	rt := &dara.RuntimeOptions{}
	err := translate(op, shallow(func() error { return fn(actx, sdk, rt) }))
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = stripQuery(ue.URL) // the query holds the request parameters
	}
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("attempt timed out after %s: %w", c.cfg.Timeout, err)
	}
	return err
}

// stripQuery drops the query string of a request URL for error messages.
func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// backoff returns the delay before attempt n+1 (n >= 1): an exponential
// step base·2^(n-1) capped at max, with "equal jitter" (half fixed, half
// random) so concurrent gateways do not retry in lockstep.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffBase
	for i := 1; i < n && d < c.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.backoffMax)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

// sleep waits d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// shallow runs f on a fresh goroutine and waits for it. The SDK's request
// nonce (darabonba's GetNonce) formats the calling goroutine's stack trace
// to learn its id, which costs in proportion to the stack's depth; behind
// the HTTP middleware and tusd that was a tenth of the gateway's CPU per
// upload creation (bench/compare profile). On a new goroutine the stack is
// a few frames deep.
func shallow(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
}
