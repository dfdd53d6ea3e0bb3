package redisstate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "vodgate"

// DefaultTTL is how long a record outlives its last write when Config.TTL
// is zero.
const DefaultTTL = 7 * 24 * time.Hour

// Config configures a [Store].
type Config struct {
	// Prefix starts every key. Default: "vodgate".
	Prefix string
	// TTL is how long a record lives after its last write. Default: 7 days.
	TTL time.Duration
	// WaitReplicas, if positive, makes every write wait (Redis WAIT) until
	// that many replicas have it, so an acknowledged write survives a
	// failover. A write not replicated within WaitTimeout fails as
	// Temporary (it may still have been applied on the primary).
	WaitReplicas int
	// WaitTimeout bounds the wait for replicas. Default: 1s.
	WaitTimeout time.Duration
}

// Store reads and writes upload records. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	wait   int
	waitTO time.Duration
}

// New returns a Store on rdb. It does no I/O.
func New(rdb redis.UniversalClient, cfg Config) *Store {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = time.Second
	}
	return &Store{rdb: rdb, prefix: cfg.Prefix, ttl: cfg.TTL, wait: cfg.WaitReplicas, waitTO: cfg.WaitTimeout}
}

// Key returns the Redis key of the record of id.
func (s *Store) Key(id string) string { return s.prefix + ":{" + id + "}:upload" }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return wrap("ping", "", err)
	}
	return nil
}

// createScript sets the fields of a new record: KEYS[1] record, ARGV[1] TTL
// in ms, then field/value pairs. It returns 0 if the record exists.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

// updateScript applies a fenced update: KEYS[1] record, KEYS[2] fence key
// (may be the record key itself when unfenced), ARGV[1] TTL ms, ARGV[2]
// token ("" when unfenced), ARGV[3] number of fields to delete, then the
// fields to delete, then field/value pairs to set. ARGV[4+ndel] == "DEL"
// deletes the whole record instead. Returns 1, or -1 when fenced, or 0 when
// the record is missing.
var updateScript = redis.NewScript(`
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ndel = tonumber(ARGV[3])
if ARGV[4] == 'DEL' then redis.call('DEL', KEYS[1]) return 1 end
for i = 5, 4 + ndel do redis.call('HDEL', KEYS[1], ARGV[i]) end
for i = 5 + ndel, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

// Create stores a new record with fields. It fails with an error whose
// Exists() reports true if id already has a record.
func (s *Store) Create(ctx context.Context, id string, fields map[string][]byte) error {
	args := make([]any, 0, 1+2*len(fields))
	args = append(args, s.ttl.Milliseconds())
	for k, v := range fields {
		args = append(args, k, v)
	}
	n, err := createScript.Run(ctx, s.rdb, []string{s.Key(id)}, args...).Int()
	if err != nil {
		return wrap("create", id, err)
	}
	if n == 0 {
		return &Error{Op: "create", ID: id, kind: kindExists, Err: errors.New("record exists")}
	}
	return s.replicate(ctx, "create", id)
}

// Load returns every field of the record of id, or an error whose
// NotFound() reports true.
func (s *Store) Load(ctx context.Context, id string) (map[string][]byte, error) {
	m, err := s.rdb.HGetAll(ctx, s.Key(id)).Result()
	if err != nil {
		return nil, wrap("load", id, err)
	}
	if len(m) == 0 {
		return nil, &Error{Op: "load", ID: id, kind: kindNotFound, Err: errors.New("no record")}
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}

// LoadField returns one field of each record of ids, in order, in one
// round trip (one pipeline); a missing record or field gives nil.
func (s *Store) LoadField(ctx context.Context, ids []string, field string) ([][]byte, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.Key(id), field)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("load field", "", err)
	}
	out := make([][]byte, len(ids))
	for i, c := range cmds {
		if b, err := c.Bytes(); err == nil {
			out[i] = b
		}
	}
	return out, nil
}

// Update deletes the fields del, then sets the fields set, atomically and
// only if fenceKey holds token (no check when fenceKey is empty). It
// refreshes the record's TTL.
func (s *Store) Update(ctx context.Context, id, fenceKey string, token int64, set map[string][]byte, del []string) error {
	args := make([]any, 0, 4+len(del)+2*len(set))
	args = append(args, s.ttl.Milliseconds(), tokenArg(fenceKey, token), len(del), "")
	for _, f := range del {
		args = append(args, f)
	}
	for k, v := range set {
		args = append(args, k, v)
	}
	return s.runUpdate(ctx, "update", id, fenceKey, args)
}

// Delete removes the record of id under the same fence rule as Update.
func (s *Store) Delete(ctx context.Context, id, fenceKey string, token int64) error {
	args := []any{s.ttl.Milliseconds(), tokenArg(fenceKey, token), 0, "DEL"}
	return s.runUpdate(ctx, "delete", id, fenceKey, args)
}

func (s *Store) runUpdate(ctx context.Context, op, id, fenceKey string, args []any) error {
	keys := []string{s.Key(id), s.Key(id)}
	if fenceKey != "" {
		keys[1] = fenceKey
	}
	n, err := updateScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return wrap(op, id, err)
	}
	switch n {
	case -1:
		return &Error{Op: op, ID: id, kind: kindFenced, Err: errors.New("fencing token is stale")}
	case 0:
		return &Error{Op: op, ID: id, kind: kindNotFound, Err: errors.New("no record")}
	}
	return s.replicate(ctx, op, id)
}

// replicate waits for Config.WaitReplicas replicas of the node that holds
// id's record, when configured.
func (s *Store) replicate(ctx context.Context, op, id string) error {
	if s.wait <= 0 {
		return nil
	}
	type waiter interface {
		Wait(ctx context.Context, replicas int, timeout time.Duration) *redis.IntCmd
	}
	node, ok := s.rdb.(waiter)
	if !ok {
		return &Error{Op: op + " wait", ID: id, Err: fmt.Errorf("client %T cannot WAIT", s.rdb)}
	}
	if c, ok := s.rdb.(*redis.ClusterClient); ok { // WAIT has no key: ask the key's master
		m, err := c.MasterForKey(ctx, s.Key(id))
		if err != nil {
			return wrap(op+" wait", id, err)
		}
		node = m
	}
	n, err := node.Wait(ctx, s.wait, s.waitTO).Result()
	if err != nil {
		return wrap(op+" wait", id, err)
	}
	if n < int64(s.wait) {
		return &Error{Op: op + " wait", ID: id, kind: kindTemporary,
			Err: fmt.Errorf("%d of %d replicas acknowledged within %s", n, s.wait, s.waitTO)}
	}
	return nil
}

func tokenArg(fenceKey string, token int64) string {
	if fenceKey == "" {
		return ""
	}
	return fmt.Sprint(token)
}

type kind int

const (
	kindOther kind = iota
	kindNotFound
	kindExists
	kindFenced
	kindTemporary
)

// Error is the error returned by [Store]. Its methods classify it.
type Error struct {
	Op, ID string
	Err    error
	kind   kind
}

func (e *Error) Error() string { return "redisstate: " + e.Op + " " + e.ID + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// NotFound reports whether the record does not exist.
func (e *Error) NotFound() bool { return e.kind == kindNotFound }

// Exists reports whether Create found an existing record.
func (e *Error) Exists() bool { return e.kind == kindExists }

// Fenced reports whether the write carried a stale fencing token.
func (e *Error) Fenced() bool { return e.kind == kindFenced }

// Temporary reports whether Redis was unreachable or not ready.
func (e *Error) Temporary() bool { return e.kind == kindTemporary }

func wrap(op, id string, err error) error {
	k := kindOther
	if isTemporary(err) {
		k = kindTemporary
	}
	return &Error{Op: op, ID: id, Err: err, kind: k}
}

// isTemporary reports whether err means Redis could not serve the request
// now but may later: network failures, timeouts, a closed pool, and the
// server's LOADING, READONLY, MASTERDOWN, TRYAGAIN and CLUSTERDOWN replies,
// and the MOVED and ASK redirections a Cluster client returns when it ran
// out of redirects while slots move (failover, resharding).
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, redis.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MOVED ", "ASK "} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// Connection refused/reset surface as *net.OpError or syscall errors;
	// io.EOF from a dropped connection too.
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe") || strings.Contains(s, "i/o timeout")
}
