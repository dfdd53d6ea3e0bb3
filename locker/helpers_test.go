package locker_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/locker"
)

// events is a slog.Handler that records event names (messages); it never
// writes to t, so goroutines that log after a test ended are harmless.
type events struct {
	mu    sync.Mutex
	names []string
}

func (e *events) Enabled(context.Context, slog.Level) bool { return true }
func (e *events) WithAttrs([]slog.Attr) slog.Handler       { return e }
func (e *events) WithGroup(string) slog.Handler            { return e }
func (e *events) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names = append(e.names, r.Message)
	return nil
}

func (e *events) count(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, got := range e.names {
		if got == name {
			n++
		}
	}
	return n
}

// newLocker returns a Locker on rdb that is closed when the test ends. cfg's
// Logger, if nil, discards.
func newLocker(t *testing.T, rdb redis.UniversalClient, cfg locker.Config) *locker.Locker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := locker.New(rdb, cfg)
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// forTopologies runs fn once per real Redis topology (one server, Sentinel,
// Cluster; see internal/testenv) with a client, the topology's URL (for
// more clients: testenv.NewClient(t, url) is another "process") and a key
// prefix unique to the subtest.
func forTopologies(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, url, prefix string)) {
	t.Helper()
	testenv.ForTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url string) {
		fn(t, rdb, url, testenv.KeyPrefix(t, rdb))
	})
}

// secondClient returns another client to the same server and database as
// rdb, as a second gateway process would have.
func secondClient(t *testing.T, rdb *redis.Client) *redis.Client {
	t.Helper()
	o := rdb.Options()
	c := redis.NewClient(&redis.Options{Addr: o.Addr, DB: o.DB, Username: o.Username, Password: o.Password})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// miniRedis returns a client for an in-process miniredis (as -dev mode uses).
func miniRedis(t *testing.T) *redis.Client {
	t.Helper()
	s := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// partition is a go-redis hook that, while cut, fails every command as a
// network partition between one gateway and Redis would.
type partition struct{ cut atomic.Bool }

var errPartitioned = errors.New("test: partitioned from redis")

func (p *partition) DialHook(next redis.DialHook) redis.DialHook { return next }
func (p *partition) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if p.cut.Load() {
			cmd.SetErr(errPartitioned)
			return errPartitioned
		}
		return next(ctx, cmd)
	}
}
func (p *partition) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// metric returns the value of the counter or gauge name (with the label
// op=value if label is set) gathered from g, or 0.
func metric(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// waitUntil polls cond every 10ms for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ctxFor returns a context that times out after d.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
