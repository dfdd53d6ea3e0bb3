package locker

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is the pub/sub side of lock stealing. One PSUBSCRIBE per Locker
// on "<prefix>:release:*" carries two messages per upload channel:
//
//   - "request": a Lock call found the lock held; the holder, in whichever
//     process, calls its requestUnlock so tusd stops the request and Unlocks.
//   - "released": an Unlock deleted the lock; waiters retry at once instead
//     of at their next RetryEvery tick.
//
// Pub/sub is best effort: a message lost during a reconnect only delays a
// waiter, which re-publishes its request every requestEvery and polls every
// RetryEvery.

// subscribeWait bounds how long Lock calls wait for the release-channel
// subscription of a new Locker before acquiring: a lock taken before the
// subscription is effective would miss release requests.
const subscribeWait = time.Second

// startWaiting registers a Lock call waiting for id and starts the
// subscription if needed. It fails if the Locker is closed.
func (l *Locker) startWaiting(ctx context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return &UnavailableError{Op: "acquire", ID: id, RetryAfter: l.cfg.TTL, Err: ErrClosed}
	}
	if !l.subbing && !l.sharded {
		l.subbing = true
		// The subscription outlives this Lock call: keep ctx's values,
		// drop its cancellation.
		go l.subscribe(context.WithoutCancel(ctx))
	}
	w := l.waiters[id]
	if w == nil {
		w = &waiters{wake: make(chan struct{})}
		l.waiters[id] = w
	}
	w.n++
	l.syncShardLocked(ctx, id)
	return nil
}

// stopWaiting unregisters a Lock call registered by startWaiting.
func (l *Locker) stopWaiting(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.waiters[id]; w != nil {
		w.n--
		if w.n <= 0 {
			delete(l.waiters, id)
			l.syncShardLocked(context.Background(), id)
		}
	}
}

// wakeChan returns the channel that the next wake(id) closes. A waiter reads
// it before each attempt, so a release between the attempt and the wait is
// not missed.
func (l *Locker) wakeChan(id string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.waiters[id]; w != nil {
		return w.wake
	}
	return nil
}

// wake makes the Lock calls waiting for id retry now.
func (l *Locker) wake(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.waiters[id]; w != nil {
		close(w.wake)
		w.wake = make(chan struct{})
	}
}

// wakeAll makes every waiting Lock call retry now.
func (l *Locker) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.waiters {
		close(w.wake)
		w.wake = make(chan struct{})
	}
}

// subscribe runs the release-channel subscription until Close. go-redis
// reconnects and re-subscribes by itself after connection errors.
func (l *Locker) subscribe(ctx context.Context) {
	defer close(l.subDone)
	var readyOnce sync.Once
	markReady := func() { readyOnce.Do(func() { close(l.ready) }) }
	defer markReady()
	giveUp := time.AfterFunc(subscribeWait, func() {
		l.log.Warn("ReleaseChannelNotSubscribed", "after", subscribeWait)
		markReady()
	})
	defer giveUp.Stop()
	pattern := l.channelPattern()
	ps := l.rdb.PSubscribe(ctx, pattern)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = ps.Close()
		return
	}
	l.sub = ps
	l.mu.Unlock()

	for msg := range ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)) {
		switch msg := msg.(type) {
		case *redis.Subscription:
			// First subscription, or re-subscription after a reconnect
			// during which releases may have been missed.
			l.log.Debug("ReleaseChannelSubscribed", "pattern", pattern, "kind", msg.Kind)
			giveUp.Stop()
			markReady()
			l.wakeAll()
		case *redis.Message:
			l.dispatch(msg.Channel, msg.Payload)
		}
	}
}

// dispatch handles one message of a release channel.
func (l *Locker) dispatch(channel, payload string) {
	id, ok := l.idOfChannel(channel)
	if !ok {
		return
	}
	switch payload {
	case msgReleased:
		l.wake(id)
	case msgRequest:
		l.mu.Lock()
		h := l.held[id]
		l.mu.Unlock()
		if h == nil {
			return
		}
		h.requested.Store(true)
		l.m.stealsReceived.Inc()
		l.log.Info("ReleaseRequestReceived", "id", id, "token", h.token)
		go h.requestUnlock()
	}
}
