package locker_test

import (
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/locker"
	"github.com/vodgate/vodgate/locker/lockertest"
)

// TestContractMiniredis runs the contract suite on miniredis, the -dev mode
// backend; it needs no external server.
func TestContractMiniredis(t *testing.T) {
	rdb := miniRedis(t)
	l := newLocker(t, rdb, locker.Config{})
	lockertest.Run(t, func(*testing.T) handler.Locker { return l })
}

// TestContractRedis runs the contract suite on a real Redis with one Locker,
// as one gateway process.
func TestContractRedis(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		l := newLocker(t, rdb, locker.Config{Prefix: prefix})
		lockertest.Run(t, func(*testing.T) handler.Locker { return l })
	})
}

// TestContractTwoProcesses runs the contract suite on a real Redis with two
// Lockers on two clients; consecutive NewLock calls alternate between them,
// so holder and waiter are usually in different "processes".
func TestContractTwoProcesses(t *testing.T) {
	forTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url, prefix string) {
		a := newLocker(t, rdb, locker.Config{Prefix: prefix})
		b := newLocker(t, testenv.NewClient(t, url), locker.Config{Prefix: prefix})
		lockertest.Run(t, func(*testing.T) handler.Locker { return &alternate{ls: [2]handler.Locker{a, b}} })
	})
}

// TestContractTwoProcessesMiniredis is TestContractTwoProcesses on miniredis.
func TestContractTwoProcessesMiniredis(t *testing.T) {
	rdb := miniRedis(t)
	a := newLocker(t, rdb, locker.Config{})
	b := newLocker(t, secondClient(t, rdb), locker.Config{})
	lockertest.Run(t, func(*testing.T) handler.Locker { return &alternate{ls: [2]handler.Locker{a, b}} })
}

// alternate hands out locks from its two lockers in turn.
type alternate struct {
	ls [2]handler.Locker
	n  atomic.Int64
}

func (a *alternate) NewLock(id string) (handler.Lock, error) {
	return a.ls[a.n.Add(1)%2].NewLock(id)
}
