// Package testenv gives tests access to external services they may need,
// configured by environment variables.
//
// Real Redis: set VODGATE_TEST_REDIS_URL (redis://host:port/db) to a
// disposable server. Without it, tests that need Redis are skipped, except
// under CI (CI=true), where a missing URL fails them so that a broken CI setup
// cannot pass silently.
//
// Sentinel and Cluster: [ForTopologies] runs a test on one server, a
// Sentinel group and a Redis Cluster ($VODGATE_TEST_SENTINEL_URL and
// $VODGATE_TEST_CLUSTER_URL, started by bash .ci/test; private ones when
// unset), and [DefaultTopology] ($VODGATE_TEST_TOPOLOGY) picks the one the
// e2e suite runs on. Tests that break Redis start their own with
// [StartSentinel] and [StartCluster] (on ports of $VODGATE_TEST_PORT_RANGE).
//
// Isolation: tests of several packages run at once against the same server
// (go test runs packages in parallel) and Redis pub/sub channels are shared by
// all databases, so testenv never FLUSHes. Each test instead works under its
// own key prefix from [KeyPrefix], whose keys are deleted when the test ends.
package testenv

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURLEnv names the environment variable holding the test Redis URL.
const RedisURLEnv = "VODGATE_TEST_REDIS_URL"

// RedisURL returns the test Redis URL. If it is unset, it skips the test, or
// fails it when CI=true.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(RedisURLEnv)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %s is not set, but CI=true: CI must start redis-server and export it", RedisURLEnv)
	}
	t.Skipf("testenv: %s not set; skipping test that needs a real Redis", RedisURLEnv)
	return ""
}

// Redis returns a new client for the test Redis (see [RedisURL]) after
// checking that the server answers; the client is closed when the test ends.
// Each call returns a separate client, so two calls behave like two
// processes. It does not flush anything: isolate keys with [KeyPrefix].
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	u := RedisURL(t)
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", RedisURLEnv, err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: ping redis at %s: %v", opt.Addr, err)
	}
	return rdb
}

// KeyPrefix returns a key prefix unique to this test, such as
// "vodgatetest-TestFoo-k3j5...", and deletes the keys under it from rdb
// when the test ends. It contains no braces or glob characters.
func KeyPrefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	prefix := "vodgatetest-" + name + "-" + strings.ToLower(rand.Text()[:10])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		keys, err := ScanKeys(ctx, rdb, prefix+"*")
		if err != nil {
			t.Logf("testenv: scan %s*: %v", prefix, err)
			return
		}
		for _, k := range keys { // one by one: keys may hash to different Cluster slots
			if err := rdb.Del(ctx, k).Err(); err != nil {
				t.Logf("testenv: del %s: %v", k, err)
			}
		}
	})
	return prefix
}

// ScanKeys returns the keys matching pattern (SCAN); on a Cluster, those of
// every master.
func ScanKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	scan := func(ctx context.Context, c redis.UniversalClient) ([]string, error) {
		var keys []string
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, rdb)
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		keys, err := scan(ctx, m)
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	return all, err
}
