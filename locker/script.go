package locker

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// Messages published on an upload's release channel.
const (
	msgRequest  = "request"  // a waiter asks the holder to release
	msgReleased = "released" // the holder released; waiters retry now
)

// acquireScript takes the lock and returns a fresh fencing token, or returns 0
// (and optionally publishes a release request) if the lock is held.
//
//	KEYS[1] lock key, KEYS[2] fence key
//	ARGV[1] owner, ARGV[2] lock TTL ms, ARGV[3] fence seed (unix µs),
//	ARGV[4] fence TTL ms, ARGV[5] channel to publish a request on ("" = none)
//
// The seed is written only when the fence key is missing, so tokens grow by
// one per acquisition and, after the fence key expired, restart above every
// earlier token (acquisitions cannot outpace a microsecond clock).
const acquireScript = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], '` + msgRequest + `') end
  return 0
end
redis.call('SET', KEYS[2], ARGV[3], 'NX')
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return token
`

// renewScript extends the lock's TTL if it is still ours: 1 if so, else 0.
//
//	KEYS[1] lock key; ARGV[1] owner, ARGV[2] TTL ms
const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

// releaseScript deletes the lock if it is still ours and tells waiters: 1 if
// it was ours, else 0.
//
//	KEYS[1] lock key; ARGV[1] owner, ARGV[2] channel
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '` + msgReleased + `')
  return 1
end
return 0
`

// scripts holds the Lua scripts of one Locker.
type scripts struct {
	acquire, renew, release *redis.Script
}

// newScripts returns the scripts; sharded ones SPUBLISH (Redis 7 sharded
// pub/sub, for a Cluster) instead of PUBLISH.
func newScripts(sharded bool) scripts {
	return scripts{
		acquire: redis.NewScript(publishing(acquireScript, sharded)),
		renew:   redis.NewScript(renewScript),
		release: redis.NewScript(publishing(releaseScript, sharded)),
	}
}

// publishing returns src with its PUBLISH turned into SPUBLISH if sharded.
func publishing(src string, sharded bool) string {
	if !sharded {
		return src
	}
	return strings.ReplaceAll(src, "'PUBLISH'", "'SPUBLISH'")
}

// keys names the Redis keys and channel of one upload. All share the hash tag
// {id}, so Redis Cluster keeps them in one slot.
type keys struct {
	lock, fence, channel string
}

func (l *Locker) keysOf(id string) keys {
	p := l.cfg.Prefix
	return keys{
		lock:    p + ":{" + id + "}:lock",
		fence:   p + ":{" + id + "}:fence",
		channel: p + ":release:{" + id + "}",
	}
}

// channelPattern matches the release channels of all uploads.
func (l *Locker) channelPattern() string {
	return globEscape(l.cfg.Prefix) + ":release:*"
}

// idOfChannel returns the upload ID of a release channel name.
func (l *Locker) idOfChannel(ch string) (string, bool) {
	rest, ok := strings.CutPrefix(ch, l.cfg.Prefix+":release:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "}")
}

// globEscape escapes the glob metacharacters of a PSUBSCRIBE pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
