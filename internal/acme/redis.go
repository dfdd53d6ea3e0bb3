package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Redis storage defaults.
const (
	// DefaultLockTTL bounds how long a crashed holder keeps a lock (an
	// issuance takes seconds to a minute).
	DefaultLockTTL = 5 * time.Minute
	// lockPoll is how often a waiting Lock tries again.
	lockPoll = time.Second
)

// RedisStorage is a [certmagic.Storage] in Redis, shared by every gateway
// instance: each key is a hash (value, modified) under prefix, a set under
// prefix lists the keys, and locks are SET NX keys with a TTL holding a
// random token.
type RedisStorage struct {
	rdb     redis.UniversalClient
	prefix  string // e.g. "vodgate:acme:"
	lockTTL time.Duration

	mu     sync.Mutex
	tokens map[string]string // lock name -> token this process holds
}

// NewRedisStorage stores under prefix (a trailing ":" is added). Every key
// shares one Redis Cluster slot, since Store and Delete write several keys
// in one transaction: a prefix without a hash tag gets "{acme}" appended.
func NewRedisStorage(rdb redis.UniversalClient, prefix string) *RedisStorage {
	if !strings.Contains(prefix, "{") {
		prefix = strings.TrimSuffix(prefix, ":") + ":{acme}"
	}
	if !strings.HasSuffix(prefix, ":") {
		prefix += ":"
	}
	return &RedisStorage{rdb: rdb, prefix: prefix, lockTTL: DefaultLockTTL, tokens: map[string]string{}}
}

var _ certmagic.Storage = (*RedisStorage)(nil)

func (s *RedisStorage) key(k string) string { return s.prefix + "k:" + k }
func (s *RedisStorage) index() string       { return s.prefix + "index" }
func (s *RedisStorage) lock(n string) string {
	return s.prefix + "lock:" + n
}

// Store implements certmagic.Storage.
func (s *RedisStorage) Store(ctx context.Context, key string, value []byte) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.key(key), "value", value, "modified", time.Now().UnixNano())
		p.SAdd(ctx, s.index(), key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("acme: redis store %s: %w", key, err)
	}
	return nil
}

// Load implements certmagic.Storage; a missing key is fs.ErrNotExist.
func (s *RedisStorage) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.HGet(ctx, s.key(key), "value").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("acme: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("acme: redis load %s: %w", key, err)
	}
	return v, nil
}

// Delete implements certmagic.Storage: the key and every key below it.
func (s *RedisStorage) Delete(ctx context.Context, key string) error {
	keys, err := s.List(ctx, key, true)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	keys = append(keys, key)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, s.key(k))
			p.SRem(ctx, s.index(), k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("acme: redis delete %s: %w", key, err)
	}
	return nil
}

// Exists implements certmagic.Storage.
func (s *RedisStorage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List implements certmagic.Storage: the keys directly below path (or all
// below it when recursive); fs.ErrNotExist when there are none.
func (s *RedisStorage) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	all, err := s.rdb.SMembers(ctx, s.index()).Result()
	if err != nil {
		return nil, fmt.Errorf("acme: redis list %s: %w", path, err)
	}
	dir := strings.TrimSuffix(path, "/") + "/"
	if path == "" {
		dir = ""
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range all {
		rest, ok := strings.CutPrefix(k, dir)
		if !ok || rest == "" {
			continue
		}
		if !recursive {
			first, _, _ := strings.Cut(rest, "/")
			k = dir + first
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("acme: %s: %w", path, fs.ErrNotExist)
	}
	return out, nil
}

// Stat implements certmagic.Storage: a stored key is terminal, a prefix of
// stored keys is a directory.
func (s *RedisStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	vals, err := s.rdb.HMGet(ctx, s.key(key), "value", "modified").Result()
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("acme: redis stat %s: %w", key, err)
	}
	if v, ok := vals[0].(string); ok {
		var ns int64
		if m, ok := vals[1].(string); ok {
			_, _ = fmt.Sscan(m, &ns)
		}
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, ns), Size: int64(len(v)), IsTerminal: true}, nil
	}
	if _, err := s.List(ctx, key, false); err != nil {
		return certmagic.KeyInfo{}, err
	}
	return certmagic.KeyInfo{Key: key}, nil
}

// Lock implements certmagic.Locker: it waits until it holds name (or ctx
// ends). A holder that dies frees it after the lock TTL.
func (s *RedisStorage) Lock(ctx context.Context, name string) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	for {
		ok, err := s.rdb.SetNX(ctx, s.lock(name), token, s.lockTTL).Result()
		if err != nil {
			return fmt.Errorf("acme: redis lock %s: %w", name, err)
		}
		if ok {
			s.mu.Lock()
			s.tokens[name] = token
			s.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("acme: lock %s: %w", name, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}

// unlockScript deletes the lock only if it still holds our token.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// Unlock implements certmagic.Locker.
func (s *RedisStorage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	token, ok := s.tokens[name]
	delete(s.tokens, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("acme: unlock %s: not held", name)
	}
	if err := unlockScript.Run(ctx, s.rdb, []string{s.lock(name)}, token).Err(); err != nil {
		return fmt.Errorf("acme: redis unlock %s: %w", name, err)
	}
	return nil
}
