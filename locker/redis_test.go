package locker_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/locker"
)

// These tests need a real redis-server (VODGATE_TEST_REDIS_URL): they rely on
// real key expiry and on several clients.

// TestDeadHolderBlocksAtMostTTL: a holder whose process dies (its client goes
// away, so nothing renews or releases) blocks its upload for at most TTL.
func TestDeadHolderBlocksAtMostTTL(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		const ttl = 600 * time.Millisecond
		cfg := locker.Config{Prefix: prefix, TTL: ttl}

		deadClient := testenv.NewClient(t, url)
		dead := newLocker(t, deadClient, cfg)
		l, _ := dead.NewLock("up1")
		if err := l.Lock(ctxFor(t, time.Second), func() {}); err != nil {
			t.Fatal(err)
		}
		_ = deadClient.Close() // the process "dies": no renewal, no release, no answer to requests
		killed := time.Now()

		alive := newLocker(t, rdb, cfg)
		l2, _ := alive.NewLock("up1")
		if err := l2.Lock(ctxFor(t, 5*time.Second), func() {}); err != nil {
			t.Fatalf("Lock after the holder died: %v", err)
		}
		waited := time.Since(killed)
		t.Logf("waited %s for a dead holder (TTL %s)", waited, ttl)
		if waited > ttl+time.Second {
			t.Errorf("waited %s for a dead holder, want at most TTL %s (+ slack)", waited, ttl)
		}
		if err := l2.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLeftoverKeyExpires: a lock key left by a crashed process (same layout,
// unknown owner) is taken once its TTL runs out, not before.
func TestLeftoverKeyExpires(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		ctx := context.Background()
		key := prefix + ":{up2}:lock"
		if err := rdb.Set(ctx, key, "crashed-owner", 700*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		l, _ := newLocker(t, rdb, locker.Config{Prefix: prefix}).NewLock("up2")
		if err := l.Lock(ctxFor(t, 5*time.Second), func() {}); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 600*time.Millisecond || waited > 2*time.Second {
			t.Errorf("Lock took %s on a key expiring in 700ms", waited)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFencingTokensIncrease: every acquisition, whichever process makes it,
// gets a larger token, and the fence key holds the current one.
func TestFencingTokensIncrease(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		ctx := context.Background()
		ls := []*locker.Locker{
			newLocker(t, rdb, locker.Config{Prefix: prefix}),
			newLocker(t, testenv.NewClient(t, url), locker.Config{Prefix: prefix}),
		}
		var last int64
		for i := range 6 {
			lk := ls[i%2]
			if _, _, ok := lk.Fence("up3"); ok {
				t.Fatalf("round %d: Fence ok before Lock", i)
			}
			l, _ := lk.NewLock("up3")
			if err := l.Lock(ctxFor(t, 5*time.Second), func() {}); err != nil {
				t.Fatal(err)
			}
			key, token, ok := lk.Fence("up3")
			if !ok || key != prefix+":{up3}:fence" {
				t.Fatalf("round %d: Fence = %q, %d, %v; want key %q", i, key, token, ok, prefix+":{up3}:fence")
			}
			if token <= last {
				t.Errorf("round %d: token %d after %d, want increasing", i, token, last)
			}
			last = token
			if got, err := rdb.Get(ctx, key).Int64(); err != nil || got != token {
				t.Errorf("round %d: GET %s = %d, %v; want %d", i, key, got, err, token)
			}
			if _, _, ok := ls[(i+1)%2].Fence("up3"); ok {
				t.Errorf("round %d: the other process's Fence is ok", i)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			if _, _, ok := lk.Fence("up3"); ok {
				t.Errorf("round %d: Fence ok after Unlock", i)
			}
		}
	})
}

// TestFenceTokensSurviveFenceExpiry: if the fence key expires (idle upload),
// the next token is still larger than every earlier one.
func TestFenceTokensSurviveFenceExpiry(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		ctx := context.Background()
		lk := newLocker(t, rdb, locker.Config{Prefix: prefix})
		token := func() int64 {
			l, _ := lk.NewLock("up4")
			if err := l.Lock(ctxFor(t, 5*time.Second), func() {}); err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			_, tok, _ := lk.Fence("up4")
			return tok
		}
		first := token()
		if min := time.Now().Add(-time.Minute).UnixMicro(); first < min {
			t.Errorf("first token %d is not seeded from the clock (>= %d)", first, min)
		}
		ttl, err := rdb.PTTL(ctx, prefix+":{up4}:fence").Result()
		if err != nil || ttl < 6*24*time.Hour {
			t.Errorf("fence key PTTL = %s, %v; want about 7 days", ttl, err)
		}
		// Simulate a fence key that has grown far (many acquisitions) and then expired.
		if err := rdb.Del(ctx, prefix+":{up4}:fence").Err(); err != nil {
			t.Fatal(err)
		}
		if second := token(); second <= first {
			t.Errorf("token after fence expiry = %d, want > %d", second, first)
		}
	})
}

// TestStaleHolderFenced: a holder cut off from Redis past its TTL (network
// partition, long GC pause) loses the lock: its request is stopped, Fence
// stops reporting it, the next holder gets a larger token, so a fenced write
// with the stale token fails, and its Unlock does not delete the new lock.
func TestStaleHolderFenced(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		ctx := context.Background()
		const ttl = 500 * time.Millisecond

		staleClient := testenv.NewClient(t, url)
		var cut partition
		staleClient.AddHook(&cut)
		ev := &events{}
		reg := prometheus.NewRegistry()
		stale := newLocker(t, staleClient, locker.Config{Prefix: prefix, TTL: ttl, Logger: slog.New(ev)})
		stale.RegisterMetrics(reg)
		l, _ := stale.NewLock("up5")
		stopped := make(chan struct{}, 8)
		if err := l.Lock(ctxFor(t, time.Second), func() { stopped <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
		fenceKey, staleToken, ok := stale.Fence("up5")
		if !ok {
			t.Fatal("Fence not ok after Lock")
		}

		cut.cut.Store(true)
		select {
		case <-stopped:
		case <-time.After(ttl + time.Second):
			t.Fatal("requestUnlock not called after the lease ran out")
		}
		if _, _, ok := stale.Fence("up5"); ok {
			t.Error("Fence still ok after the lock was lost")
		}

		fresh := newLocker(t, rdb, locker.Config{Prefix: prefix, TTL: ttl})
		l2, _ := fresh.NewLock("up5")
		if err := l2.Lock(ctxFor(t, 3*time.Second), func() {}); err != nil {
			t.Fatal(err)
		}
		_, freshToken, _ := fresh.Fence("up5")
		if freshToken <= staleToken {
			t.Fatalf("fresh token %d <= stale token %d", freshToken, staleToken)
		}

		// A fenced write as the record store does it: applied only if the token
		// is current.
		fenced := redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[2], ARGV[2]) end return false`)
		cut.cut.Store(false)
		rec := prefix + ":{up5}:upload"
		err := fenced.Run(ctx, staleClient, []string{fenceKey, rec}, staleToken, "stale").Err()
		if !errors.Is(err, redis.Nil) {
			t.Errorf("fenced write with the stale token: err = %v, want it rejected (redis.Nil)", err)
		}
		if err := fenced.Run(ctx, rdb, []string{fenceKey, rec}, freshToken, "fresh").Err(); err != nil {
			t.Errorf("fenced write with the fresh token: %v", err)
		}

		if err := l.Unlock(); !errors.Is(err, locker.ErrLockLost) {
			t.Errorf("stale Unlock = %v, want ErrLockLost", err)
		}
		owner, err := rdb.Get(ctx, prefix+":{up5}:lock").Result()
		if err != nil || owner == "" {
			t.Errorf("the stale Unlock deleted the fresh lock (GET = %q, %v)", owner, err)
		}
		if err := l2.Unlock(); err != nil {
			t.Fatal(err)
		}
		if n := metric(t, reg, "vodgate_locker_lost_total", "", ""); n != 1 {
			t.Errorf("lost_total = %v, want 1", n)
		}
		if ev.count("LockLost") != 1 || ev.count("LockRenewFailed") == 0 {
			t.Errorf("events LockLost=%d LockRenewFailed=%d, want 1 and >0", ev.count("LockLost"), ev.count("LockRenewFailed"))
		}
	})
}

// TestTakenOverDetected: if the key is taken by another owner (expired during
// a pause and re-acquired), the next renewal notices it.
func TestTakenOverDetected(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		ctx := context.Background()
		lk := newLocker(t, rdb, locker.Config{Prefix: prefix, TTL: 600 * time.Millisecond, RenewEvery: 100 * time.Millisecond})
		l, _ := lk.NewLock("up6")
		stopped := make(chan struct{}, 8)
		if err := l.Lock(ctxFor(t, time.Second), func() { stopped <- struct{}{} }); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, prefix+":{up6}:lock", "intruder", 10*time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-stopped:
		case <-time.After(time.Second):
			t.Fatal("requestUnlock not called after the lock was taken over")
		}
		if _, _, ok := lk.Fence("up6"); ok {
			t.Error("Fence ok after take-over")
		}
		if err := l.Unlock(); !errors.Is(err, locker.ErrLockLost) {
			t.Errorf("Unlock = %v, want ErrLockLost", err)
		}
		if got := rdb.Get(ctx, prefix+":{up6}:lock").Val(); got != "intruder" {
			t.Errorf("lock key = %q after Unlock of a lost lock, want the intruder's", got)
		}
	})
}

// TestStealAcrossProcesses: a request on instance B makes the holder on
// instance A stop (as tusd does: requestUnlock cancels the request, which then
// unlocks), and B gets the lock within about a second.
func TestStealAcrossProcesses(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
		a := newLocker(t, rdb, locker.Config{Prefix: prefix})
		b := newLocker(t, testenv.NewClient(t, url), locker.Config{Prefix: prefix})
		a.RegisterMetrics(regA)
		b.RegisterMetrics(regB)

		la, _ := a.NewLock("up7")
		stop := make(chan struct{})
		if err := la.Lock(ctxFor(t, time.Second), func() { close(stop) }); err != nil {
			t.Fatal(err)
		}
		unlocked := make(chan error, 1)
		go func() { <-stop; unlocked <- la.Unlock() }() // the "request" on A

		start := time.Now()
		lb, _ := b.NewLock("up7")
		if err := lb.Lock(ctxFor(t, 10*time.Second), func() {}); err != nil {
			t.Fatal(err)
		}
		stolen := time.Since(start)
		t.Logf("steal took %s", stolen)
		if stolen > 1500*time.Millisecond {
			t.Errorf("steal took %s, want about a second at most", stolen)
		}
		if err := <-unlocked; err != nil {
			t.Errorf("holder Unlock: %v", err)
		}
		if err := lb.Unlock(); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			reg  *prometheus.Registry
			name string
			want float64
		}{
			{regB, "vodgate_locker_steals_requested_total", 1},
			{regA, "vodgate_locker_release_requests_received_total", 1},
			{regA, "vodgate_locker_steals_honoured_total", 1},
			{regA, "vodgate_locker_acquisitions_total", 1},
			{regB, "vodgate_locker_acquisitions_total", 1},
			{regA, "vodgate_locker_held", 0},
		}
		for _, c := range checks {
			if got := metric(t, c.reg, c.name, "", ""); got != c.want {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
		}
	})
}

// TestDoneContextStillTriesOnce: like memorylocker, a free lock is acquired
// even with a context that is already done.
func TestDoneContextStillTriesOnce(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		lk := newLocker(t, rdb, locker.Config{Prefix: prefix})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		l, _ := lk.NewLock("up8")
		if err := l.Lock(ctx, func() {}); err != nil {
			t.Fatalf("Lock of a free lock with a done context = %v, want nil (as memorylocker)", err)
		}
		l2, _ := lk.NewLock("up8")
		if err := l2.Lock(ctx, func() {}); !errors.Is(err, handler.ErrLockTimeout) {
			t.Errorf("Lock of a held lock with a done context = %v, want ErrLockTimeout", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCloseStopsHoldersAndWaiters covers Close with locks held and waited for.
func TestCloseStopsHoldersAndWaiters(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		lk := locker.New(rdb, locker.Config{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		signal := func(ch chan struct{}) func() {
			return func() {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
		contended, idle := make(chan struct{}, 1), make(chan struct{}, 1)
		holder, _ := lk.NewLock("up9")
		if err := holder.Lock(ctxFor(t, time.Second), signal(contended)); err != nil {
			t.Fatal(err)
		}
		other, _ := lk.NewLock("up10")
		if err := other.Lock(ctxFor(t, time.Second), signal(idle)); err != nil {
			t.Fatal(err)
		}
		waiter, _ := lk.NewLock("up9")
		got := make(chan error, 1)
		go func() { got <- waiter.Lock(ctxFor(t, 10*time.Second), func() {}) }()
		<-contended // the waiter's request reached the holder, which ignores it

		if err := lk.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-idle:
		case <-time.After(time.Second):
			t.Error("Close did not call requestUnlock of a held lock")
		}
		lateErr := func() error { l, _ := lk.NewLock("x"); return l.Lock(context.Background(), func() {}) }()
		for _, err := range []error{<-got, lateErr} {
			if !errors.Is(err, locker.ErrClosed) || !errors.Is(err, locker.ErrUnavailable) {
				t.Errorf("Lock after Close = %v, want ErrClosed and ErrUnavailable", err)
			}
		}
		for _, l := range []handler.Lock{holder, other} {
			if err := l.Unlock(); err != nil {
				t.Errorf("Unlock after Close: %v", err)
			}
		}
		if n := rdb.Exists(context.Background(), prefix+":{up9}:lock").Val() + rdb.Exists(context.Background(), prefix+":{up10}:lock").Val(); n != 0 { // one key per call: two slots on a Cluster
			t.Error("lock keys left after Unlock")
		}
		if err := lk.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}
