package locker_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/locker"
)

// Lock stealing on each Redis topology (issue 18): how fast a release
// reaches a waiter in another process, and that it still does after the
// upload's Cluster slot moved.

// TestStealLatency measures, on each topology, the time from the holder's
// Unlock (after a release request from another process) to the waiter's
// acquisition: the "released" message should wake the waiter within about
// one Redis round trip, not at its next RetryEvery poll, on a Cluster too
// (where the PUBLISH of a script crosses the cluster bus to the node the
// waiter's process subscribed on).
func TestStealLatency(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		a := newLocker(t, rdb, locker.Config{Prefix: prefix})
		b := newLocker(t, testenv.NewClient(t, url), locker.Config{Prefix: prefix, RetryEvery: time.Second})
		const rounds = 30
		var lat []time.Duration
		for i := range rounds {
			id := "steal" + strconv.Itoa(i)
			la, _ := a.NewLock(id)
			released := make(chan time.Time, 1)
			if err := la.Lock(ctxFor(t, time.Second), func() {
				go func() {
					if err := la.Unlock(); err != nil {
						t.Errorf("Unlock: %v", err)
					}
					released <- time.Now()
				}()
			}); err != nil {
				t.Fatal(err)
			}
			lb, _ := b.NewLock(id)
			if err := lb.Lock(ctxFor(t, 5*time.Second), func() {}); err != nil {
				t.Fatal(err)
			}
			got := time.Now()
			lat = append(lat, got.Sub(<-released))
			if err := lb.Unlock(); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(lat)
		p50, p95, worst := lat[rounds/2], lat[rounds*95/100], lat[rounds-1]
		t.Logf("unlock → waiter acquires: p50 %v, p95 %v, max %v", p50, p95, worst)
		// The waiter polls only every second here: anything much faster
		// came from the "released" message. (On a Cluster, with PUBLISH
		// crossing the cluster bus, p95 was about 40ms; with SPUBLISH it is
		// under a millisecond, as on a single server. The bound leaves room
		// for a loaded CI machine.)
		if p95 > 100*time.Millisecond {
			t.Errorf("p95 %v: the waiter was not woken by the release message within a few round trips", p95)
		}
		if c, ok := rdb.(*redis.ClusterClient); ok { // the channel is a shard channel of the key's master
			l, _ := a.NewLock("sharded")
			if err := l.Lock(ctxFor(t, time.Second), func() {}); err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			ctx := ctxFor(t, 5*time.Second)
			m, err := c.MasterForKey(ctx, prefix+":{sharded}:lock")
			if err != nil {
				t.Fatal(err)
			}
			ch := prefix + ":release:{sharded}"
			if n := m.PubSubShardNumSub(ctx, ch).Val()[ch]; n != 1 {
				t.Errorf("PUBSUB SHARDNUMSUB %s on the slot's master = %d, want 1 (the holder)", ch, n)
			}
		}
	})
}

// TestStealAfterReshard moves the slot of a held lock to another master
// (redis-cli --cluster reshard) on a private Cluster: the holder's sharded
// subscription follows the slot, so a waiter in another process still gets
// the lock handed over at once.
func TestStealAfterReshard(t *testing.T) {
	c := testenv.StartCluster(t)
	rdb := c.Client(t)
	a := newLocker(t, rdb, locker.Config{Prefix: "p"})
	b := newLocker(t, c.Client(t), locker.Config{Prefix: "p", RetryEvery: time.Second})
	la, _ := a.NewLock("moving")
	stop := make(chan struct{})
	if err := la.Lock(ctxFor(t, time.Second), func() { close(stop) }); err != nil {
		t.Fatal(err)
	}
	go func() { <-stop; _ = la.Unlock() }()
	from := c.MasterOf("p:{moving}:lock")
	var to *testenv.ServerProc
	for _, n := range c.Nodes {
		if n != from && len(c.Slots(n)) > 0 {
			to = n
			break
		}
	}
	slots := 0
	for _, r := range c.Slots(from) {
		slots += r[1] - r[0] + 1
	}
	if out, err := c.Reshard(from, to, slots); err != nil {
		t.Fatalf("reshard: %v\n%s", err, out)
	}
	if m := c.MasterOf("p:{moving}:lock"); m != to {
		t.Fatalf("slot served by %s after the reshard, want %s", m.Addr, to.Addr)
	}
	// The holder re-subscribes on the new master; wait until it has (a
	// fixed sleep was too short on a loaded machine), then time the steal.
	node := redis.NewClient(&redis.Options{Addr: to.Addr})
	defer node.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := node.Do(context.Background(), "PUBSUB", "SHARDNUMSUB", "p:release:{moving}").Slice()
		if err == nil && len(n) == 2 && n[1] == int64(1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the holder never re-subscribed on the new master (%v %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	lb, _ := b.NewLock("moving")
	if err := lb.Lock(ctxFor(t, 10*time.Second), func() {}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("steal after the reshard took %v", took)
	if took > 700*time.Millisecond { // b re-requests every 500ms
		t.Errorf("steal after the reshard took %v: the holder did not hear the first release request", took)
	}
	if err := lb.Unlock(); err != nil {
		t.Fatal(err)
	}
}
