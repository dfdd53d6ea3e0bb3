package locker

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file is the Redis Cluster variant of the release channels (see
// release.go). On a Cluster, a PUBLISH is broadcast to every node over the
// cluster bus, which costs every node and, measured, delays some messages by
// tens of milliseconds. There, the scripts SPUBLISH instead (sharded pub/sub:
// the channel "<prefix>:release:{id}" is in the slot of the upload's keys, so
// only that slot's master delivers it), and a Locker SSUBSCRIBEs to the
// channel of each upload it waits for or holds, for as long as it does and
// shardLinger more: one subscription, and connection to the slot's master,
// per such upload.
//
// When the slot moves (resharding), the server ends the subscription
// (sunsubscribe); when the master fails, the connection breaks and go-redis
// re-subscribes. Either way the subscription is opened again on the slot's
// current master and the upload's waiters retry at once, as for a
// reconnect of the PSUBSCRIBE.

// shardLinger is how long a release-channel subscription stays open after
// its upload is no longer waited for or held, so that the next request for
// the upload (tus clients send them one after another) finds it open.
const shardLinger = 10 * time.Second

// shardSub is the SSUBSCRIBE of one upload's release channel.
type shardSub struct {
	ready chan struct{} // closed once subscribed, or when subscribing takes too long
	stop  chan struct{} // closed to end the subscription
	once  sync.Once
	idle  *time.Timer // running while lingering (under Locker.mu)
}

// syncShardLocked opens or closes the subscription of id's release channel
// so that it is open while this process waits for or holds id. l.mu must be
// held. It does nothing unless l is sharded.
func (l *Locker) syncShardLocked(ctx context.Context, id string) {
	if !l.sharded {
		return
	}
	needed := l.waiters[id] != nil || l.held[id] != nil
	sub := l.shards[id]
	switch {
	case l.closed:
	case needed && sub == nil:
		sub = &shardSub{ready: make(chan struct{}), stop: make(chan struct{})}
		l.shards[id] = sub
		l.shardWG.Add(1)
		go l.runShard(context.WithoutCancel(ctx), id, sub)
	case needed && sub.idle != nil:
		sub.idle.Stop()
		sub.idle = nil
	case !needed && sub != nil && sub.idle == nil:
		sub.idle = time.AfterFunc(shardLinger, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.shards[id] == sub && sub.idle != nil && l.waiters[id] == nil && l.held[id] == nil {
				delete(l.shards, id)
				close(sub.stop)
			}
		})
	}
}

// subReady returns the channel closed once release requests for id reach
// this process: the PSUBSCRIBE's, or id's SSUBSCRIBE's on a Cluster.
func (l *Locker) subReady(id string) <-chan struct{} {
	if !l.sharded {
		return l.ready
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if sub := l.shards[id]; sub != nil {
		return sub.ready
	}
	closed := make(chan struct{}) // Locker closed: nothing to wait for
	close(closed)
	return closed
}

// runShard keeps id's release channel subscribed until sub.stop is closed.
func (l *Locker) runShard(ctx context.Context, id string, sub *shardSub) {
	defer l.shardWG.Done()
	markReady := func() { sub.once.Do(func() { close(sub.ready) }) }
	defer markReady()
	giveUp := time.AfterFunc(subscribeWait, func() {
		l.log.Warn("ReleaseChannelNotSubscribed", "id", id, "after", subscribeWait)
		markReady()
	})
	defer giveUp.Stop()
	channel := l.keysOf(id).channel
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			// The slot moved, or the subscription was refused (MOVED: the
			// client's slot map is stale): learn the slots again, then
			// subscribe on the slot's current master.
			select {
			case <-sub.stop:
				return
			case <-time.After(l.cfg.RetryEvery):
			}
			if c, ok := l.rdb.(interface{ ReloadState(context.Context) }); ok {
				c.ReloadState(ctx)
			}
		}
		ps := l.rdb.SSubscribe(ctx, channel)
		again := l.readShard(id, ps, sub, markReady)
		_ = ps.Close()
		if !again {
			return
		}
	}
}

// readShard dispatches the messages of ps until sub.stop is closed (false),
// or until it must subscribe again (true): the server ended the
// subscription because the slot moved, or did not confirm it within
// subscribeWait.
func (l *Locker) readShard(id string, ps *redis.PubSub, sub *shardSub, markReady func()) bool {
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(64))
	confirm := time.NewTimer(subscribeWait)
	defer confirm.Stop()
	for {
		select {
		case <-sub.stop:
			return false
		case <-confirm.C:
			l.log.Warn("ReleaseChannelNotSubscribed", "id", id, "after", subscribeWait)
			return true
		case msg, ok := <-ch:
			if !ok {
				return true
			}
			switch msg := msg.(type) {
			case *redis.Subscription:
				switch msg.Kind {
				case "ssubscribe": // first subscription, or again after a reconnect
					confirm.Stop()
					markReady()
					l.wake(id)
				case "sunsubscribe":
					l.log.Info("ReleaseChannelMoved", "id", id)
					l.wake(id)
					return true
				}
			case *redis.Message:
				l.dispatch(msg.Channel, msg.Payload)
			}
		}
	}
}
