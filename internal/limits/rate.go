package limits

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// slidingWindow counts a request in the current fixed window unless the
// sliding estimate (the previous window's count weighted by how much of it
// still overlaps the last Window, plus the current count) is already at the
// limit. Rejected requests are not counted, so a flood does not extend its
// own ban. Each window key lives two windows, so a subject holds at most
// two keys per limit.
//
// KEYS[1] current window, KEYS[2] previous window.
// ARGV[1] limit, ARGV[2] window ms, ARGV[3] ms elapsed in the current window.
// Returns {allowed 0|1, current count, previous count}.
var slidingWindow = redis.NewScript(`
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if prev * (window - elapsed) / window + cur + 1 > limit then
  return {0, cur, prev}
end
cur = redis.call('INCR', KEYS[1])
if cur == 1 then
  redis.call('PEXPIRE', KEYS[1], window * 2)
end
return {1, cur, prev}
`)

// verdict is the outcome of one limit check.
type verdict struct {
	allowed    bool
	retryAfter time.Duration // when not allowed
}

// allow counts one event of kind for subject against limit per window.
func (l *Limiter) allow(ctx context.Context, subject, kind string, limit int) (verdict, error) {
	now := l.cfg.Clock()
	wms := l.cfg.Window.Milliseconds()
	idx := now.UnixMilli() / wms
	elapsed := now.UnixMilli() % wms
	base := l.key(subject) + ":" + kind + ":"
	keys := []string{base + strconv.FormatInt(idx, 10), base + strconv.FormatInt(idx-1, 10)}
	res, err := slidingWindow.Run(ctx, l.rdb, keys, limit, wms, elapsed).Int64Slice()
	if err != nil {
		return verdict{}, fmt.Errorf("limits: rate %s: %w", kind, err)
	}
	if len(res) != 3 {
		return verdict{}, fmt.Errorf("limits: rate %s: unexpected script result %v", kind, res)
	}
	if res[0] == 1 {
		return verdict{allowed: true}, nil
	}
	return verdict{retryAfter: retryAfter(int64(limit), res[1], res[2], l.cfg.Window, time.Duration(elapsed)*time.Millisecond)}, nil
}

// retryAfter is how long until the sliding estimate leaves room for one
// more event: within the current window as the previous one slides out,
// or else in the next window as the current one does.
func retryAfter(limit, cur, prev int64, window, elapsed time.Duration) time.Duration {
	room := float64(limit - 1)
	w := float64(window)
	if float64(cur) <= room && prev > 0 {
		t := float64(window-elapsed) - (room-float64(cur))*w/float64(prev)
		return time.Duration(math.Max(t, 0))
	}
	t := float64(window - elapsed)
	if cur > 0 {
		t += w * math.Max(0, 1-room/float64(cur))
	}
	return time.Duration(t)
}
