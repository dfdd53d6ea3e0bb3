package locker

import (
	"context"
	"fmt"
	"time"
)

// hold renews h every RenewEvery until Unlock asks it to release. It is the
// only goroutine that talks to Redis about h after the acquisition.
func (l *Locker) hold(ctx context.Context, h *holding) {
	t := time.NewTicker(l.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case res := <-h.unlock:
			res <- l.release(ctx, h)
			return
		case <-t.C:
			l.mu.Lock()
			lost := h.lost
			l.mu.Unlock()
			if !lost {
				l.renew(ctx, h)
			}
		}
	}
}

// renew extends h's TTL if the key is still h's, and declares h lost if it is
// not, or if renewals kept failing until its lease ran out.
func (l *Locker) renew(ctx context.Context, h *holding) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, l.cfg.RenewEvery)
	n, err := l.s.renew.Run(rctx, l.rdb, []string{h.keys.lock}, h.owner, l.cfg.TTL.Milliseconds()).Int64()
	cancel()
	switch {
	case err == nil && n == 1:
		h.validUntil.Store(start.Add(l.cfg.TTL).UnixNano())
	case err == nil:
		l.lose(h, "taken over or expired")
	default:
		l.m.errors.WithLabelValues("renew").Inc()
		l.log.Warn("LockRenewFailed", "id", h.id, "token", h.token, "error", err)
		if time.Now().UnixNano() >= h.validUntil.Load() {
			l.lose(h, "lease ran out while renewals failed")
		}
	}
}

// lose marks h lost: Fence stops reporting it and its request is asked to
// stop. Idempotent.
func (l *Locker) lose(h *holding, reason string) {
	l.mu.Lock()
	if h.lost {
		l.mu.Unlock()
		return
	}
	h.lost = true
	if l.held[h.id] == h {
		delete(l.held, h.id)
		l.syncShardLocked(context.Background(), h.id)
	}
	l.mu.Unlock()
	h.validUntil.Store(0)
	l.m.lost.Inc()
	l.m.held.Dec()
	l.log.Warn("LockLost", "id", h.id, "token", h.token, "reason", reason, "heldFor", time.Since(h.acquired))
	go h.requestUnlock()
}

// release deletes h's key if it is still h's and wakes the waiters; it runs
// on h's renewer goroutine on behalf of Unlock.
func (l *Locker) release(ctx context.Context, h *holding) error {
	l.mu.Lock()
	wasLost := h.lost
	h.lost = true
	if l.held[h.id] == h {
		delete(l.held, h.id)
		l.syncShardLocked(ctx, h.id)
	}
	l.mu.Unlock()
	h.validUntil.Store(0)
	if !wasLost {
		l.m.held.Dec()
	}

	// Unlock runs before tusd's handler returns, so it must not hang on an
	// unresponsive Redis; the key expires within TTL anyway.
	rctx, cancel := context.WithTimeout(ctx, l.cfg.RenewEvery)
	n, err := l.s.release.Run(rctx, l.rdb, []string{h.keys.lock}, h.owner, h.keys.channel).Int64()
	cancel()
	l.wake(h.id)
	switch {
	case wasLost:
		return fmt.Errorf("locker: unlock %s: %w", h.id, ErrLockLost)
	case err != nil:
		l.m.errors.WithLabelValues("release").Inc()
		l.log.Warn("LockReleaseFailed", "id", h.id, "token", h.token, "error", err)
		return l.opError("release", h.id, err)
	case n == 0:
		// Lost after the last renewal and before this Unlock.
		l.m.lost.Inc()
		l.log.Warn("LockLost", "id", h.id, "token", h.token, "reason", "gone at unlock",
			"heldFor", time.Since(h.acquired))
		return fmt.Errorf("locker: unlock %s: %w", h.id, ErrLockLost)
	}
	if h.requested.Load() {
		l.m.stealsHonoured.Inc()
	}
	l.log.Debug("LockReleased", "id", h.id, "token", h.token, "heldFor", time.Since(h.acquired))
	return nil
}
