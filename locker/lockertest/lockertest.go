// Package lockertest is a contract suite for tusd [handler.Locker]
// implementations. [Run] checks the behaviour that tusd's handler relies on and
// that tusd's memorylocker shows: exclusive locks, [handler.ErrLockTimeout]
// when the context ends, the holder's requestUnlock called when another
// request wants the lock, and waiters let in after Unlock.
//
// The suite uses fresh upload IDs in every subtest and runs subtests in
// parallel, so a locker backed by a shared server (Redis) needs no cleanup
// between them. Timing bounds are generous (about a second for a hand-over)
// so that the suite passes on a loaded machine.
package lockertest

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// handOver bounds how long a waiter may take to get a lock once it is
// released, or a holder to see a release request.
const handOver = 2 * time.Second

// Run runs the contract suite. newLocker is called once per subtest and may
// return a locker shared with other subtests; it registers its own cleanup
// with t.
func Run(t *testing.T, newLocker func(t *testing.T) handler.Locker) {
	tests := []struct {
		name string
		fn   func(t *testing.T, lk handler.Locker)
	}{
		{"LockUnlock", testLockUnlock},
		{"Relock", testRelock},
		{"HeldLockTimesOut", testHeldLockTimesOut},
		{"CancelledWaitTimesOut", testCancelledWaitTimesOut},
		{"RequestUnlockCalledOnHolder", testRequestUnlock},
		{"UnlockLetsWaiterIn", testUnlockLetsWaiterIn},
		{"IndependentIDs", testIndependentIDs},
		{"MutualExclusion", testMutualExclusion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newLocker(t))
		})
	}
}

// uploadID returns an upload ID unique to this test run.
func uploadID(t *testing.T) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return "lockertest-" + name + "-" + strings.ToLower(rand.Text()[:8])
}

func newLock(t *testing.T, lk handler.Locker, id string) handler.Lock {
	t.Helper()
	l, err := lk.NewLock(id)
	if err != nil {
		t.Fatalf("NewLock(%q): %v", id, err)
	}
	return l
}

// lockWithin calls l.Lock with a context that times out after d.
func lockWithin(l handler.Lock, d time.Duration, requestUnlock func()) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return l.Lock(ctx, requestUnlock)
}

func mustLock(t *testing.T, l handler.Lock, requestUnlock func()) {
	t.Helper()
	if err := lockWithin(l, 10*time.Second, requestUnlock); err != nil {
		t.Fatalf("Lock: %v", err)
	}
}

func mustUnlock(t *testing.T, l handler.Lock) {
	t.Helper()
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func nop() {}

// counter counts requestUnlock calls.
type counter struct{ n atomic.Int64 }

func (c *counter) call()        { c.n.Add(1) }
func (c *counter) count() int64 { return c.n.Load() }

func testLockUnlock(t *testing.T, lk handler.Locker) {
	l := newLock(t, lk, uploadID(t))
	mustLock(t, l, nop)
	mustUnlock(t, l)
}

func testRelock(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	l := newLock(t, lk, id)
	for range 3 {
		mustLock(t, l, nop)
		mustUnlock(t, l)
	}
	other := newLock(t, lk, id)
	if err := lockWithin(other, handOver, nop); err != nil {
		t.Fatalf("Lock by a second lock object after Unlock: %v", err)
	}
	mustUnlock(t, other)
}

func testHeldLockTimesOut(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	holder := newLock(t, lk, id)
	var requests counter
	mustLock(t, holder, requests.call) // the holder ignores requests

	const wait = 300 * time.Millisecond
	start := time.Now()
	err := lockWithin(newLock(t, lk, id), wait, nop)
	elapsed := time.Since(start)
	if !errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("Lock on a held lock = %v, want handler.ErrLockTimeout", err)
	}
	if elapsed < wait-10*time.Millisecond || elapsed > wait+handOver {
		t.Errorf("Lock returned ErrLockTimeout after %s, want about %s", elapsed, wait)
	}
	waitFor(t, "holder's requestUnlock", func() bool { return requests.count() > 0 })

	// The waiter that timed out must not hold the lock, and the holder
	// still does.
	if err := lockWithin(newLock(t, lk, id), 100*time.Millisecond, nop); !errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("second Lock on a held lock = %v, want handler.ErrLockTimeout", err)
	}
	mustUnlock(t, holder)
	next := newLock(t, lk, id)
	if err := lockWithin(next, handOver, nop); err != nil {
		t.Fatalf("Lock after the holder unlocked: %v", err)
	}
	mustUnlock(t, next)
}

func testCancelledWaitTimesOut(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	holder := newLock(t, lk, id)
	mustLock(t, holder, nop)
	defer mustUnlock(t, holder)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := newLock(t, lk, id).Lock(ctx, nop)
	if !errors.Is(err, handler.ErrLockTimeout) {
		t.Fatalf("Lock with a cancelled context = %v, want handler.ErrLockTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 100*time.Millisecond+handOver {
		t.Errorf("Lock returned %s after its context was cancelled", elapsed-100*time.Millisecond)
	}
}

func testRequestUnlock(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	holder := newLock(t, lk, id)
	requested := make(chan struct{})
	var once sync.Once
	mustLock(t, holder, func() { once.Do(func() { close(requested) }) })

	// No one else wants the lock yet: no request.
	time.Sleep(100 * time.Millisecond)
	select {
	case <-requested:
		t.Fatal("requestUnlock called without contention")
	default:
	}

	waiter := newLock(t, lk, id)
	got := make(chan error, 1)
	go func() { got <- lockWithin(waiter, 20*time.Second, nop) }()

	select {
	case <-requested:
	case err := <-got:
		t.Fatalf("waiter returned %v while the lock was held", err)
	case <-time.After(handOver):
		t.Fatalf("holder's requestUnlock not called within %s of another Lock", handOver)
	}
	// Like tusd: the request stops, then releases the lock.
	mustUnlock(t, holder)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter Lock: %v", err)
		}
	case <-time.After(handOver):
		t.Fatalf("waiter did not get the lock within %s of Unlock", handOver)
	}
	mustUnlock(t, waiter)
}

func testUnlockLetsWaiterIn(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	holder := newLock(t, lk, id)
	mustLock(t, holder, nop)

	waiter := newLock(t, lk, id)
	got := make(chan error, 1)
	go func() { got <- lockWithin(waiter, 20*time.Second, nop) }()
	select {
	case err := <-got:
		t.Fatalf("waiter returned %v while the lock was held", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlocked := time.Now()
	mustUnlock(t, holder)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter Lock: %v", err)
		}
		t.Logf("hand-over took %s", time.Since(unlocked))
	case <-time.After(handOver):
		t.Fatalf("waiter did not get the lock within %s of Unlock", handOver)
	}
	mustUnlock(t, waiter)
}

func testIndependentIDs(t *testing.T, lk handler.Locker) {
	a := newLock(t, lk, uploadID(t))
	var requests counter
	mustLock(t, a, requests.call)
	b := newLock(t, lk, uploadID(t))
	if err := lockWithin(b, handOver, nop); err != nil {
		t.Fatalf("Lock of another upload while one is held: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := requests.count(); n != 0 {
		t.Errorf("requestUnlock of upload A called %d times by a Lock of upload B", n)
	}
	mustUnlock(t, b)
	mustUnlock(t, a)
}

func testMutualExclusion(t *testing.T, lk handler.Locker) {
	id := uploadID(t)
	const workers, rounds = 4, 5
	var inside, overlaps, total atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				l, err := lk.NewLock(id)
				if err != nil {
					t.Errorf("NewLock: %v", err)
					return
				}
				if err := lockWithin(l, 30*time.Second, nop); err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				if inside.Add(1) > 1 {
					overlaps.Add(1)
				}
				total.Add(1)
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				if err := l.Unlock(); err != nil {
					t.Errorf("Unlock: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d of %d critical sections overlapped", n, total.Load())
	}
}

// waitFor polls cond for up to handOver.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(handOver)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, handOver)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
