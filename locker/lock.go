package locker

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// lock is the [handler.Lock] of one upload for one tus request.
type lock struct {
	l  *Locker
	id string

	mu   sync.Mutex
	busy bool     // a Lock call is running
	h    *holding // non-nil while held
}

// Lock acquires the lock, waiting while another request (in this or another
// process) holds it. Like tusd's memorylocker it:
//
//   - asks the holder to release (its requestUnlock is called) as soon as it
//     finds the lock held, and again every 500ms while waiting;
//   - returns [handler.ErrLockTimeout] without the lock when ctx is done
//     before the lock could be acquired;
//   - tries at least once, even with a ctx that is already done.
//
// requestUnlock is called, on a goroutine of its own and possibly more than
// once, when another request asks for this lock, when the lock is found lost
// (TTL expired, or taken over) and on [Locker.Close]; the request should then
// stop and call Unlock. ctx bounds only the wait: the lock is held and renewed
// until Unlock.
//
// Every successful Lock must be followed by Unlock: until then the lock is
// renewed (by a goroutine of its own), even after the lock was lost.
//
// If Redis is unreachable, Lock returns an [*UnavailableError] (which tusd
// answers with 503 and Retry-After). Calling Lock on a lock that is held or
// being acquired is an error.
func (k *lock) Lock(ctx context.Context, requestUnlock func()) error {
	if requestUnlock == nil {
		requestUnlock = func() {}
	}
	k.mu.Lock()
	if k.busy || k.h != nil {
		k.mu.Unlock()
		return fmt.Errorf("locker: lock %s: Lock called on a held lock", k.id)
	}
	k.busy = true
	k.mu.Unlock()

	var span trace.Span
	if k.l.tracer != nil {
		ctx, span = k.l.tracer.Start(ctx, "lock acquire", trace.WithAttributes(attribute.String("tus.upload_id", k.id)))
	}
	h, err := k.l.acquire(ctx, k.id, requestUnlock)
	if span != nil {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else {
			span.SetAttributes(attribute.Int64("lock.fencing_token", h.token))
		}
		span.End()
	}

	k.mu.Lock()
	k.busy = false
	k.h = h
	k.mu.Unlock()
	return err
}

// Unlock releases the lock (compare-and-delete, so it never deletes a lock
// that another owner took over) and wakes the waiters. Unlock on a lock that
// is not held returns nil. If the lock was lost before Unlock, it returns an
// error wrapping [ErrLockLost]; if Redis is unreachable, an
// [*UnavailableError] (the key then expires within TTL). In both cases the
// lock object is unlocked afterwards and may be locked again.
func (k *lock) Unlock() error {
	k.mu.Lock()
	h := k.h
	k.h = nil
	k.mu.Unlock()
	if h == nil {
		return nil
	}
	res := make(chan error, 1)
	h.unlock <- res
	return <-res
}

// acquire runs the attempt–wait loop of Lock.
func (l *Locker) acquire(ctx context.Context, id string, requestUnlock func()) (*holding, error) {
	start := time.Now()
	if err := l.startWaiting(ctx, id); err != nil {
		l.m.wait.WithLabelValues("error").Observe(0)
		return nil, err
	}
	defer l.stopWaiting(id)
	select { // subscribe first, so that the lock hears release requests
	case <-l.subReady(id):
	case <-ctx.Done():
	}

	ks := l.keysOf(id)
	owner := rand.Text()
	timer := time.NewTimer(l.cfg.RetryEvery)
	defer timer.Stop()
	var lastRequest time.Time
	requested := false
	for {
		wake := l.wakeChan(id)
		publish := time.Since(lastRequest) >= requestEvery
		attempt := time.Now()
		token, err := l.tryAcquire(ctx, ks, owner, publish)
		switch {
		case err != nil:
			l.m.errors.WithLabelValues("acquire").Inc()
			l.m.wait.WithLabelValues("error").Observe(time.Since(start).Seconds())
			l.log.Warn("LockUnavailable", "id", id, "error", err)
			return nil, l.opError("acquire", id, err)
		case token > 0:
			return l.record(ctx, id, ks, owner, token, requestUnlock, start, attempt), nil
		}
		if publish {
			lastRequest = time.Now()
			if !requested {
				requested = true
				l.m.stealsRequest.Inc()
				l.log.Info("ReleaseRequested", "id", id)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(l.cfg.RetryEvery)
		select {
		case <-ctx.Done():
			l.m.wait.WithLabelValues("timeout").Observe(time.Since(start).Seconds())
			l.log.Info("LockTimeout", "id", id, "waited", time.Since(start))
			return nil, handler.ErrLockTimeout
		case <-wake:
		case <-timer.C:
		}
		if l.isClosed() {
			l.m.wait.WithLabelValues("error").Observe(time.Since(start).Seconds())
			return nil, &UnavailableError{Op: "acquire", ID: id, RetryAfter: l.cfg.TTL, Err: ErrClosed}
		}
	}
}

// tryAcquire makes one attempt; it returns the fencing token, or 0 if the
// lock is held (and then publishes a release request if publish is set).
// The attempt is not cut short by ctx: an attempt aborted mid-flight could
// leave an acquired lock behind that nobody renews or releases. It is bounded
// by the TTL instead. After an error, whose outcome is unknown, the key is
// deleted if it turns out to be ours.
func (l *Locker) tryAcquire(ctx context.Context, ks keys, owner string, publish bool) (int64, error) {
	ctx = context.WithoutCancel(ctx)
	actx, cancel := context.WithTimeout(ctx, l.cfg.TTL)
	defer cancel()
	channel := ""
	if publish {
		channel = ks.channel
	}
	token, err := l.s.acquire.Run(actx, l.rdb, []string{ks.lock, ks.fence},
		owner, l.cfg.TTL.Milliseconds(), time.Now().UnixMicro(), fenceTTL.Milliseconds(), channel).Int64()
	if err != nil {
		go l.cleanup(ctx, ks, owner)
		return 0, err
	}
	return token, nil
}

// cleanup deletes the lock key if it is owner's, after an acquisition attempt
// whose outcome is unknown. Best effort: otherwise the key expires within TTL.
func (l *Locker) cleanup(ctx context.Context, ks keys, owner string) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.TTL)
	defer cancel()
	_ = l.s.release.Run(ctx, l.rdb, []string{ks.lock}, owner, ks.channel).Err()
}

// record records a fresh acquisition and starts its renewer.
func (l *Locker) record(ctx context.Context, id string, ks keys, owner string, token int64,
	requestUnlock func(), start, attempt time.Time) *holding {
	h := &holding{
		id:            id,
		owner:         owner,
		keys:          ks,
		token:         token,
		requestUnlock: requestUnlock,
		acquired:      time.Now(),
		unlock:        make(chan chan error),
	}
	h.validUntil.Store(attempt.Add(l.cfg.TTL).UnixNano())
	l.mu.Lock()
	l.held[id] = h // replaces a holding that is lost but not yet found so
	l.mu.Unlock()
	l.m.acquisitions.Inc()
	l.m.held.Inc()
	waited := time.Since(start)
	l.m.wait.WithLabelValues("acquired").Observe(waited.Seconds())
	l.log.Debug("LockAcquired", "id", id, "token", token, "waited", waited)
	// The renewer outlives ctx, which tusd cancels as soon as Lock returns.
	go l.hold(context.WithoutCancel(ctx), h)
	return h
}

var _ handler.Lock = (*lock)(nil)
