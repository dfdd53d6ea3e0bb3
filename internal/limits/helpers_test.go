package limits

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/testenv"
)

// backend is a Redis to run limiter tests against, with a key prefix of
// the test's own.
type backend struct {
	rdb    redis.UniversalClient
	prefix string
	mr     *miniredis.Miniredis // nil for a real Redis
}

// eachBackend runs fn against miniredis, a real Redis (skipped without
// VODGATE_TEST_REDIS_URL, except in CI), a Sentinel group and a Cluster (see
// testenv.TopologyURL).
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		fn(t, backend{rdb: rdb, prefix: "vodgate", mr: mr})
	})
	t.Run("redis", func(t *testing.T) {
		rdb := testenv.Redis(t)
		fn(t, backend{rdb: rdb, prefix: testenv.KeyPrefix(t, rdb)})
	})
	for _, topo := range []testenv.Topology{testenv.TopoSentinel, testenv.TopoCluster} {
		t.Run(string(topo), func(t *testing.T) {
			rdb, _ := testenv.TopologyRedis(t, topo)
			fn(t, backend{rdb: rdb, prefix: testenv.KeyPrefix(t, rdb)})
		})
	}
}

// keys returns the keys under the backend's prefix with their TTLs.
func (b backend) keys(t *testing.T) map[string]time.Duration {
	t.Helper()
	ctx := context.Background()
	out := map[string]time.Duration{}
	keys, err := testenv.ScanKeys(ctx, b.rdb, b.prefix+":*")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		ttl, err := b.rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = ttl
	}
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type ownerKey struct{}

func ownerOf(ctx context.Context) (string, bool) {
	o, ok := ctx.Value(ownerKey{}).(string)
	return o, ok
}

// asOwner returns r with an owner in its context, as auth would.
func asOwner(r *http.Request, owner string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ownerKey{}, owner))
}

// serve runs one request through h and returns the response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
