package locker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
	"go.opentelemetry.io/otel/trace"
)

// Locker is a [handler.Locker] whose locks live in Redis, so that several
// gateway processes sharing one Redis exclude each other. It is safe for
// concurrent use. The zero value is not usable; call [New].
type Locker struct {
	rdb    redis.UniversalClient
	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer // nil: no spans
	m      *metrics
	s      scripts

	mu      sync.Mutex
	held    map[string]*holding // upload ID → lock this process holds
	waiters map[string]*waiters // upload ID → Lock calls waiting for it
	subbing bool                // subscriber goroutine started
	subDone chan struct{}       // closed when the subscriber goroutine ends
	ready   chan struct{}       // closed once subscribed, or when subscribing takes too long
	closed  bool
	sub     *redis.PubSub // set by the subscriber goroutine; nil until then

	// On a Redis Cluster: sharded pub/sub, one SSUBSCRIBE per upload
	// waited for or held (see shard.go).
	sharded bool
	shards  map[string]*shardSub
	shardWG sync.WaitGroup
}

// waiters counts the Lock calls of this process waiting for one upload and
// holds the channel that is closed (and replaced) to wake them.
type waiters struct {
	n    int
	wake chan struct{}
}

// holding is one acquisition: it exists from a successful Lock until Unlock.
type holding struct {
	id            string
	owner         string // random value stored in the lock key
	keys          keys
	token         int64 // fencing token of this acquisition
	requestUnlock func()
	acquired      time.Time
	validUntil    atomic.Int64    // unix ns; start of last successful renewal + TTL
	requested     atomic.Bool     // a release request arrived
	unlock        chan chan error // Unlock → renewer goroutine, which releases and answers

	// lost is set (under Locker.mu) once the lock is known lost or released;
	// it is then no longer in Locker.held.
	lost bool
}

// New returns a Locker that keeps locks in rdb (standalone, Sentinel or
// Cluster). It does no I/O: the release-request subscription is opened by the
// first Lock (on a Cluster, one sharded subscription per upload; see shard.go). Invalid cfg fields are replaced by their defaults (see
// [Config.Validate]). The caller keeps ownership of rdb and closes it after
// [Locker.Close].
func New(rdb redis.UniversalClient, cfg Config) *Locker {
	bad := cfg.Validate()
	cfg.setDefaults()
	l := &Locker{
		rdb:     rdb,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "locker"),
		m:       newMetrics(),
		held:    make(map[string]*holding),
		waiters: make(map[string]*waiters),
		subDone: make(chan struct{}),
		ready:   make(chan struct{}),
		shards:  make(map[string]*shardSub),
	}
	if cfg.TracerProvider != nil {
		l.tracer = cfg.TracerProvider.Tracer("github.com/vodgate/vodgate/locker")
	}
	_, l.sharded = rdb.(*redis.ClusterClient)
	l.s = newScripts(l.sharded)
	if bad != nil {
		l.log.Warn("InvalidConfig", "error", bad, "ttl", cfg.TTL, "renewEvery", cfg.RenewEvery,
			"retryEvery", cfg.RetryEvery, "prefix", cfg.Prefix)
	}
	return l
}

// UseIn registers l as the composer's locker.
func (l *Locker) UseIn(c *handler.StoreComposer) {
	c.UseLocker(l)
}

// NewLock returns an unlocked lock for upload id; it does no I/O. Each tus
// request uses its own lock object. id must not be empty.
func (l *Locker) NewLock(id string) (handler.Lock, error) {
	if id == "" {
		return nil, errors.New("locker: new lock: empty upload id")
	}
	return &lock{l: l, id: id}, nil
}

// Fence returns the fence key and fencing token of the lock this process
// currently holds on upload id. ok is false if it holds none, if the lock was
// found lost (renewal failed or found another owner), or if its lease ran out
// locally without a successful renewal. A store makes a write conditional on
// GET key == token, so a holder that lost its lock can never overwrite the
// state written by the next holder. Safe for concurrent use.
//
// The token belongs to the process's lock on id, not to a request: only code
// running under that lock (a tusd request between Lock and Unlock) should use
// it. tusd takes no lock for some operations (creating an upload without
// data), so ok == false does not by itself mean that a write is stale.
func (l *Locker) Fence(id string) (key string, token int64, ok bool) {
	l.mu.Lock()
	h := l.held[id]
	l.mu.Unlock()
	if h == nil || time.Now().UnixNano() >= h.validUntil.Load() {
		return "", 0, false
	}
	return h.keys.fence, h.token, true
}

// Close stops the release-request subscription and makes further Lock calls
// fail with [ErrClosed] (wrapped in an [*UnavailableError]); waiting Lock
// calls return that error too. Locks still held get their requestUnlock
// called, keep being renewed, and are released by their Unlock as usual, so
// call Close after the HTTP server has drained. Close does not close the
// Redis client. It is idempotent.
func (l *Locker) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	ps, started := l.sub, l.subbing
	hs := make([]*holding, 0, len(l.held))
	for _, h := range l.held {
		hs = append(hs, h)
	}
	for _, w := range l.waiters {
		close(w.wake)
		w.wake = make(chan struct{})
	}
	for id, sub := range l.shards {
		delete(l.shards, id)
		if sub.idle != nil {
			sub.idle.Stop()
		}
		close(sub.stop)
	}
	l.mu.Unlock()

	for _, h := range hs {
		go h.requestUnlock()
	}
	var err error
	if ps != nil {
		if cerr := ps.Close(); cerr != nil && !errors.Is(cerr, redis.ErrClosed) {
			err = fmt.Errorf("locker: close subscription: %w", cerr)
		}
	}
	if started {
		<-l.subDone
	}
	l.shardWG.Wait()
	l.log.Debug("LockerClosed", "held", len(hs))
	return err
}

// isClosed reports whether Close was called.
func (l *Locker) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

var _ handler.Locker = (*Locker)(nil)
