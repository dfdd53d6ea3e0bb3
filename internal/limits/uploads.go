package limits

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// An owner's unfinished uploads are a sorted set, `<prefix>:limit:{o:<owner>}:uploads`,
// whose members are upload IDs (or "pending:<random>" while a creation is
// in flight) scored by the unix ms at which they stop counting. Members
// past their score are dropped by the next reservation; the key's own TTL
// is refreshed on every write, so an idle owner's set disappears.

// reserveScript drops expired members and adds ARGV[4] unless the set
// already holds ARGV[2] members.
// KEYS[1] set. ARGV[1] now ms, ARGV[2] limit, ARGV[3] member score, ARGV[4]
// member, ARGV[5] key TTL ms. Returns {added 0|1, count, earliest score}.
var reserveScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, tonumber(first[2] or ARGV[1])}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, n + 1, 0}
`)

// confirmScript replaces the pending member ARGV[1] with the upload ID
// ARGV[2] scored ARGV[3]. KEYS[1] set, ARGV[4] key TTL ms.
var confirmScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// touchScript moves an upload's score forward if it is still counted.
// KEYS[1] set, ARGV[1] member, ARGV[2] score, ARGV[3] key TTL ms.
var touchScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
`)

// pendingTTL bounds how long a reservation for a creation in flight
// counts if the instance dies before confirming it.
const pendingTTL = 2 * time.Minute

func (l *Limiter) uploadsKey(owner string) string { return l.key("o:"+owner) + ":uploads" }

// reserve takes a slot for a creation by owner; it returns the pending
// member to confirm or release.
func (l *Limiter) reserve(ctx context.Context, owner string) (member string, v verdict, err error) {
	now := l.cfg.Clock()
	member = "pending:" + rand.Text()[:16]
	res, err := reserveScript.Run(ctx, l.rdb, []string{l.uploadsKey(owner)},
		now.UnixMilli(), l.cfg.OwnerUploads, now.Add(pendingTTL).UnixMilli(), member, l.keyTTL()).Int64Slice()
	if err != nil {
		return "", verdict{}, fmt.Errorf("limits: reserve upload slot: %w", err)
	}
	if len(res) != 3 {
		return "", verdict{}, fmt.Errorf("limits: reserve upload slot: unexpected script result %v", res)
	}
	if res[0] == 1 {
		return member, verdict{allowed: true}, nil
	}
	wait := time.UnixMilli(res[2]).Sub(now)
	return "", verdict{retryAfter: min(max(wait, time.Second), l.cfg.Window)}, nil
}

func (l *Limiter) confirm(ctx context.Context, owner, member, id string) error {
	now := l.cfg.Clock()
	err := confirmScript.Run(ctx, l.rdb, []string{l.uploadsKey(owner)}, member, id,
		now.Add(l.cfg.UploadIdle).UnixMilli(), l.keyTTL()).Err()
	if err != nil {
		return fmt.Errorf("limits: confirm upload slot: %w", err)
	}
	return nil
}

func (l *Limiter) release(ctx context.Context, owner, member string) error {
	if err := l.rdb.ZRem(ctx, l.uploadsKey(owner), member).Err(); err != nil {
		return fmt.Errorf("limits: release upload slot: %w", err)
	}
	return nil
}

func (l *Limiter) touch(ctx context.Context, owner, id string) error {
	now := l.cfg.Clock()
	err := touchScript.Run(ctx, l.rdb, []string{l.uploadsKey(owner)}, id,
		now.Add(l.cfg.UploadIdle).UnixMilli(), l.keyTTL()).Err()
	if err != nil {
		return fmt.Errorf("limits: touch upload slot: %w", err)
	}
	return nil
}

// keyTTL is the TTL of an uploads set: it outlives every member score.
func (l *Limiter) keyTTL() int64 { return max(l.cfg.UploadIdle, pendingTTL).Milliseconds() + 1000 }

// creationKey marks a creation request whose upload finished within it
// (an empty upload, or creation-with-upload of every byte).
type creationKey struct{}

type creation struct{ finished bool }

// PreFinishResponse is tusd's PreFinishResponseCallback: it frees the
// finished upload's slot among its owner's unfinished uploads. It never
// fails the request.
func (l *Limiter) PreFinishResponse(ev handler.HookEvent) (handler.HTTPResponse, error) {
	if l.cfg.OwnerUploads <= 0 || l.cfg.OwnerOf == nil {
		return handler.HTTPResponse{}, nil
	}
	ctx := ev.Context
	if c, ok := ctx.Value(creationKey{}).(*creation); ok {
		c.finished = true // the creation middleware releases its pending member
		return handler.HTTPResponse{}, nil
	}
	owner, ok := l.cfg.OwnerOf(ctx)
	if !ok {
		return handler.HTTPResponse{}, nil
	}
	rctx, cancel := l.redisCtx(ctx)
	defer cancel()
	if err := l.release(rctx, owner, ev.Upload.ID); err != nil {
		l.redisFailed(ctx, err)
	}
	return handler.HTTPResponse{}, nil
}
