// Package lease is a named lease in Redis that one process holds at a
// time, renewed while it works and released when it is done; a holder
// that dies frees it when its TTL runs out. The reaper and the webhook
// dispatcher use it so that one instance of a fleet does each job.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLost is returned by Renew when another holder has the lease.
var ErrLost = errors.New("lease: lost to another holder")

// Lease is one holder's handle on the lease at a key.
type Lease struct {
	rdb   redis.UniversalClient
	key   string
	token string
	ttl   time.Duration
}

// New returns a handle on the lease at key, lasting ttl from each
// Acquire or Renew. It does no I/O.
func New(rdb redis.UniversalClient, key string, ttl time.Duration) *Lease {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return &Lease{rdb: rdb, key: key, token: hex.EncodeToString(b), ttl: ttl}
}

// Acquire takes the lease if no one holds it and reports whether it did.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, l.key, l.token, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("lease: acquire %s: %w", l.key, err)
	}
	return ok, nil
}

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// Renew extends the lease this handle holds; it fails with ErrLost when
// the handle no longer holds it.
func (l *Lease) Renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("lease: renew %s: %w", l.key, err)
	}
	if n == 0 {
		return ErrLost
	}
	return nil
}

// Release gives the lease up if this handle holds it.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{l.key}, l.token).Err(); err != nil {
		return fmt.Errorf("lease: release %s: %w", l.key, err)
	}
	return nil
}
